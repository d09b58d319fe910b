package display

import (
	"fmt"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
)

// LogArg is LogText for the arguments of a builtin named name that takes
// one event: table.log, and the printer behind log=True on vici.initiate
// and vici.terminate.
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
	group := field(ev, "group", "   ")
	if _, hasThread, _ := ev.Get(starlark.String("thread")); !hasThread {
		return fmt.Sprintf("[%s] %s", group, field(ev, "msg", ""))
	}
	// swanctl reads the thread with strtol and prints it with %.2d.
	thread, _ := strconv.Atoi(strings.TrimSpace(field(ev, "thread", "0")))
	prefix := fmt.Sprintf("%02d[%s] ", thread, group)
	if thread < 0 {
		prefix = fmt.Sprintf("-%02d[%s] ", -thread, group)
	}
	if _, ok, _ := ev.Get(starlark.String("msg")); !ok {
		return ""
	}
	lines := strings.Split(field(ev, "msg", ""), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// field returns ev[key] as text, or def when it is missing or neither a
// str nor bytes, as swanctl's vici_find_str does.
func field(ev starlark.Mapping, key, def string) string {
	v, _, _ := ev.Get(starlark.String(key))
	switch v := v.(type) {
	case starlark.String:
		return string(v)
	case starlark.Bytes:
		return string(v)
	}
	return def
}
