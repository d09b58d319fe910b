package starctx

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
)

// Duration is the one argument unpacker (starlark.Unpacker) for "seconds or
// a duration" that every vicish builtin uses (deadline=, timeout=,
// time.sleep). It accepts None (Set stays false), an int or float number of
// seconds, a time.duration value, or a string: a number of seconds ("1.5")
// or a Go duration ("500ms", "1m30s"). Negative values, NaN, values too
// large for a time.Duration (about 292 years) and positive values shorter
// than a nanosecond are errors.
type Duration struct {
	D   time.Duration // the duration; 0 when not Set
	Set bool          // false when the argument was None
}

// Unpack implements starlark.Unpacker.
func (d *Duration) Unpack(v starlark.Value) error {
	*d = Duration{}
	var x time.Duration
	var err error
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.Int:
		f, _ := starlark.AsFloat(v) // a huge int becomes ±Inf: too long or negative
		x, err = fromSeconds(f, v.String())
	case starlark.Float:
		x, err = fromSeconds(float64(v), v.String())
	case libtime.Duration:
		x = time.Duration(v)
	case starlark.String:
		x, err = ParseDuration(string(v))
	default:
		return fmt.Errorf("got %s, want seconds (int or float), a string such as \"5s\" or \"1m30s\", or a time.duration", v.Type())
	}
	if err != nil {
		return err
	}
	if x < 0 {
		return fmt.Errorf("duration %v is negative", x)
	}
	*d = Duration{D: x, Set: true}
	return nil
}

// ParseDuration reads a duration written as text, as on the command line
// (vicish --deadline) or in a Starlark string: a number of seconds such as
// "10" or "1.5", or a Go duration such as "500ms" or "1m30s". The limits
// are those of Duration.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(t, 64); err == nil {
		return fromSeconds(f, t)
	} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return 0, tooLong(t)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want seconds such as 10 or 1.5, or a string such as \"5s\" or \"1m30s\")", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %v is negative", d)
	}
	return d, nil
}

// fromSeconds converts f seconds (written as text) to a Duration.
func fromSeconds(f float64, text string) (time.Duration, error) {
	switch ns := f * float64(time.Second); {
	case math.IsNaN(f):
		return 0, fmt.Errorf("%s is not a duration", text)
	case f < 0:
		return 0, fmt.Errorf("duration %s seconds is negative", text)
	case ns >= math.MaxInt64: // float64(MaxInt64) is 2^63, one past the limit
		return 0, tooLong(text)
	case f > 0 && ns < 1:
		return 0, fmt.Errorf("duration %s seconds is shorter than a nanosecond", text)
	default:
		return time.Duration(ns), nil
	}
}

func tooLong(text string) error {
	return fmt.Errorf("duration %s seconds is too long (the limit is %.0f seconds, about 292 years)", text, float64(math.MaxInt64)/float64(time.Second))
}
