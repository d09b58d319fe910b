package log

import (
	"io"
	"strings"

	"github.com/vicish/vicish/registry"
)

// Spec is the module's table for a module writing to w (see NewModule).
func Spec(w io.Writer, jsonLines bool) registry.Module {
	l := &logger{w: w, jsonLines: jsonLines}
	m := registry.Module{Name: "log", Summary: "info/warn/error(msg, **fields): log lines on stderr"}
	for _, level := range []string{"info", "warn", "error"} {
		m.Builtins = append(m.Builtins, registry.Builtin{
			Name: level, Params: registry.MustParams("msg, /, **fields"), Fn: l.builtin(level),
			Doc: "Write a line of level " + strings.ToUpper(level) + " on stderr: time, level, msg and key=value fields in the order given (JSON lines with --log-json); secrets show as <redacted>.",
		})
	}
	return m
}
