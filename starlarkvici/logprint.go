package starlarkvici

import (
	"fmt"
	"os"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/display"
)

// logPrinter returns the callback of log=True on initiate and terminate:
// it prints each control-log event as swanctl --initiate does
// ("[IKE] initiating IKE_SA ab[1] to 192.0.2.2"), through the thread's
// print function like print() (standard error when the host set none).
func logPrinter() starlark.Callable {
	return starlark.NewBuiltin("log", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		line, err := display.LogArg(b.Name(), args, kwargs)
		if err != nil {
			return nil, err
		}
		if thread.Print != nil {
			thread.Print(thread, line)
		} else {
			fmt.Fprintln(os.Stderr, line)
		}
		return starlark.None, nil
	})
}
