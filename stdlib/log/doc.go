package log

import "github.com/vicish/vicish/stdlib/doc"

// Doc describes the module for help().
func Doc() doc.Module {
	line := func(level string) string {
		return "Write a line of level " + level + " on stderr: time, level, msg and key=value fields in the order given (JSON lines with --log-json); secrets show as <redacted>."
	}
	return doc.Module{
		Name:    "log",
		Summary: "info/warn/error(msg, **fields): log lines on stderr",
		Builtins: []doc.Builtin{
			doc.Fn("info", "msg, **fields", line("INFO")),
			doc.Fn("warn", "msg, **fields", line("WARN")),
			doc.Fn("error", "msg, **fields", line("ERROR")),
		},
	}
}
