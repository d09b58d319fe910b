package starlarkvici

import (
	"fmt"
	"math"
	"time"

	startime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

// seconds is an optional duration argument: None, an int or float number
// of seconds, a duration string such as "1m30s", or a time.duration value.
// It implements starlark.Unpacker.
type seconds struct {
	d   time.Duration
	set bool
}

func (s *seconds) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.NoneType:
		*s = seconds{}
		return nil
	case starlark.Int:
		n, ok := v.Int64()
		if !ok || n > math.MaxInt64/int64(time.Second) {
			return fmt.Errorf("%s seconds is too long", v)
		}
		s.d = time.Duration(n) * time.Second
	case starlark.Float:
		f := float64(v)
		if math.IsNaN(f) || f*float64(time.Second) > math.MaxInt64 {
			return fmt.Errorf("%s seconds is not a usable duration", v)
		}
		s.d = time.Duration(f * float64(time.Second))
	case starlark.String:
		d, err := time.ParseDuration(string(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration (want seconds, or a string like \"5s\" or \"1m30s\")", string(v))
		}
		s.d = d
	case startime.Duration:
		s.d = time.Duration(v)
	default:
		return fmt.Errorf("got %s, want seconds (int or float), a string like \"5s\", or a time.duration", v.Type())
	}
	if s.d < 0 {
		return fmt.Errorf("duration %v is negative", s.d)
	}
	s.set = true
	return nil
}
