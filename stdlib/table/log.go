package table

import (
	"go.starlark.net/starlark"

	"github.com/vicish/vicish/display"
)

// logLine is table.log(event).
func logLine(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	line, err := display.LogArg(b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.String(line), nil
}
