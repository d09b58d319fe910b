package time

import (
	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"

	"github.com/vicish/vicish/registry"
)

// Spec is the module's table: go.starlark.net/lib/time's builtins under
// "time.", its duration constants, and time.sleep.
func Spec() registry.Module {
	m := registry.Module{
		Name:    "time",
		Summary: "now(), sleep(d), parse_duration(s), parse_time(s), time(...), second, minute...",
		Builtins: []registry.Builtin{
			{Name: "now", Fn: qualified("now"),
				Doc: "The current time (a time value: .year, .unix, t - u is a duration, format with .format())."},
			{Name: "sleep", Params: registry.MustParams("d, /"), Fn: sleep,
				Doc: "Wait for d (seconds, a duration or a string such as \"1m30s\"); Ctrl-C or the script's deadline ends it early."},
			{Name: "parse_duration", Params: registry.MustParams("s, /"), Fn: qualified("parse_duration"),
				Doc: "The duration written as s, e.g. \"1h30m\", \"500ms\"."},
			{Name: "parse_time", Params: registry.MustParams(`x, format="2006-01-02T15:04:05Z07:00", location="UTC"`), Fn: qualified("parse_time"),
				Doc: "The time written as x in Go layout format (RFC 3339 by default)."},
			{Name: "from_timestamp", Params: registry.MustParams("sec, nsec=0, /"), Fn: qualified("from_timestamp"),
				Doc: "The time sec seconds (and nsec nanoseconds) after 1970-01-01 UTC."},
			{Name: "time", Params: registry.MustParams(`year=0, month=0, day=0, hour=0, minute=0, second=0, nanosecond=0, location="UTC"`), Fn: qualified("time"),
				Doc: "The time with these fields."},
			{Name: "is_valid_timezone", Params: registry.MustParams("name, /"), Fn: qualified("is_valid_timezone"),
				Doc: "Whether name is a time zone this system knows, e.g. \"Europe/Zurich\"."},
		},
		Values: starlark.StringDict{},
		More:   "Durations: time.nanosecond, microsecond, millisecond, second, minute, hour (10 * time.second).",
	}
	for name, v := range libtime.Module.Members {
		if _, isBuiltin := v.(*starlark.Builtin); !isBuiltin {
			m.Values[name] = v
		}
	}
	return m
}
