package time

import "github.com/vicish/vicish/stdlib/doc"

// Doc describes the module for help().
func Doc() doc.Module {
	return doc.Module{
		Name:    "time",
		Summary: "now(), sleep(d), parse_duration(s), parse_time(s), time(...), second, minute...",
		Builtins: []doc.Builtin{
			doc.Fn("now", "", "The current time (a time value: .year, .unix, t - u is a duration, format with .format())."),
			doc.Fn("sleep", "d", "Wait for d (seconds, a duration or a string such as \"1m30s\"); Ctrl-C or the script's deadline ends it early."),
			doc.Fn("parse_duration", "s", "The duration written as s, e.g. \"1h30m\", \"500ms\"."),
			doc.Fn("parse_time", `x, format="2006-01-02T15:04:05Z07:00", location="UTC"`, "The time written as x in Go layout format (RFC 3339 by default)."),
			doc.Fn("from_timestamp", "sec, nsec=0", "The time sec seconds (and nsec nanoseconds) after 1970-01-01 UTC."),
			doc.Fn("time", `year=0, month=0, day=0, hour=0, minute=0, second=0, nanosecond=0, location="UTC"`, "The time with these fields."),
			doc.Fn("is_valid_timezone", "name", "Whether name is a time zone this system knows, e.g. \"Europe/Zurich\"."),
		},
		More: "Durations: time.nanosecond, microsecond, millisecond, second, minute, hour (10 * time.second).",
	}
}
