package table

import (
	"fmt"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
)

// logLine is table.log(event).
func logLine(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	line, err := LogArg(b.Name(), args, kwargs)
	if err != nil {
		return nil, err
	}
	return starlark.String(line), nil
}

// LogArg is LogText for the arguments of a builtin named name that takes
// one event: table.log, and the printer behind log=True on initiate and
// terminate.
func LogArg(name string, args starlark.Tuple, kwargs []starlark.Tuple) (string, error) {
	var arg starlark.Value
	if err := starlark.UnpackPositionalArgs(name, args, kwargs, 1, &arg); err != nil {
		return "", err
	}
	ev, ok := arg.(starlark.Mapping)
	if !ok {
		return "", fmt.Errorf("%s: got %s, want a dict (a log or control-log event)", name, arg.Type())
	}
	return LogText(ev), nil
}

// LogText formats one log event the way swanctl shows it, without a
// trailing newline. A "log" event (it has a thread) looks as under
// swanctl --log: each line of its message prefixed with the thread number
// and group, "05[IKE] initiating IKE_SA ab[1] to 192.0.2.2". A
// "control-log" event (streamed by initiate and terminate) looks as under
// swanctl --initiate: "[IKE] initiating IKE_SA ab[1] to 192.0.2.2".
func LogText(ev starlark.Mapping) string {
	group := find(ev, "   ", "group")
	if _, hasThread, _ := lookup(ev, "thread"); !hasThread {
		return fmt.Sprintf("[%s] %s", group, find(ev, "", "msg"))
	}
	// swanctl reads the thread with strtol and prints it with %.2d.
	thread, _ := strconv.Atoi(strings.TrimSpace(find(ev, "0", "thread")))
	prefix := fmt.Sprintf("%02d[%s] ", thread, group)
	if thread < 0 {
		prefix = fmt.Sprintf("-%02d[%s] ", -thread, group)
	}
	if _, ok, _ := lookup(ev, "msg"); !ok {
		return ""
	}
	lines := strings.Split(find(ev, "", "msg"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
