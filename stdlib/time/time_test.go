package time_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	"github.com/vicish/vicish/starctx"
	stdtime "github.com/vicish/vicish/stdlib/time"
)

// exec runs src with the time module and the assert module predeclared.
func exec(t *testing.T, thread *starlark.Thread, src string) error {
	t.Helper()
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	starlarktest.SetReporter(thread, t)
	predeclared := starlark.StringDict{"time": stdtime.NewModule(), "assert": assert["assert"]}
	_, err = starlark.ExecFile(thread, "test.star", src, predeclared)
	return err
}

func TestModule(t *testing.T) {
	thread := &starlark.Thread{Name: "test"}
	fixed := time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC)
	libtime.SetNow(thread, func() (time.Time, error) { return fixed, nil })
	src := `
assert.eq(sorted(dir(time)), sorted([
    "from_timestamp", "is_valid_timezone", "now", "parse_duration", "parse_time", "time",
    "nanosecond", "microsecond", "millisecond", "second", "minute", "hour", "sleep"]))
assert.eq(str(time.now), "<built-in function time.now>")
assert.eq(str(time.sleep), "<built-in function time.sleep>")
assert.eq(time.now().year, 2026)
assert.eq(time.now().unix, 1795366800)
assert.eq(time.parse_duration("1m30s"), 90 * time.second)
assert.eq(time.parse_time("2026-11-22T17:00:00Z"), time.now())
assert.eq(time.sleep(0), None)
time.sleep(0.001)
time.sleep("1ms")
time.sleep(time.millisecond)
assert.fails(lambda: time.sleep(-1), "time.sleep: .*negative duration")
assert.fails(lambda: time.sleep("soon"), 'time.sleep: .*invalid duration "soon"')
assert.fails(lambda: time.sleep([]), "time.sleep: .*got list, want a number of seconds")
assert.fails(lambda: time.sleep(), "time.sleep: got 0 arguments, want 1")
`
	if err := exec(t, thread, src); err != nil {
		t.Fatal(err)
	}
}

func TestSleepCancelled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel func(context.CancelCauseFunc)
	}{
		{"during", func(cancel context.CancelCauseFunc) {
			go func() {
				time.Sleep(20 * time.Millisecond)
				cancel(errors.New("operator pressed Ctrl-C"))
			}()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			thread := &starlark.Thread{Name: "test"}
			defer starctx.Attach(thread, ctx)()
			tc.cancel(cancel)
			// An hour: the test only finishes if the cancellation ends the sleep.
			err := exec(t, thread, `time.sleep(3600)`)
			if !errors.Is(err, stdtime.ErrInterrupted) {
				t.Fatalf("got %v, want an error wrapping ErrInterrupted", err)
			}
			if !strings.Contains(err.Error(), "time.sleep: interrupted: operator pressed Ctrl-C") {
				t.Errorf("error %q does not say why the sleep ended", err)
			}
		})
	}
}

// TestSleepDone checks Sleep on a context that has already ended.
func TestSleepDone(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("shutting down"))
	err := stdtime.Sleep(ctx, time.Hour)
	if !errors.Is(err, stdtime.ErrInterrupted) || err.Error() != "interrupted: shutting down" {
		t.Fatalf("got %v, want interrupted: shutting down", err)
	}
	if err := stdtime.Sleep(context.Background(), 0); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
}

func TestDurationArg(t *testing.T) {
	for _, tc := range []struct {
		in      starlark.Value
		want    time.Duration
		wantErr string
	}{
		{starlark.MakeInt(5), 5 * time.Second, ""},
		{starlark.MakeInt(0), 0, ""},
		{starlark.Float(0.25), 250 * time.Millisecond, ""},
		{starlark.String("1m30s"), 90 * time.Second, ""},
		{starlark.String("150ms"), 150 * time.Millisecond, ""},
		{libtime.Duration(3 * time.Minute), 3 * time.Minute, ""},
		{starlark.MakeInt(-1), 0, "negative duration -1s"},
		{starlark.String("-2s"), 0, "negative duration -2s"},
		{starlark.String("5"), 0, `invalid duration "5"`},
		{starlark.Float(1e300), 0, "invalid duration"},
		{starlark.MakeInt64(1 << 62), 0, "too large"},
		{starlark.None, 0, "got NoneType, want a number of seconds"},
	} {
		var d stdtime.DurationArg
		err := d.Unpack(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("Unpack(%v): unexpected error %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("Unpack(%v): got error %v, want one containing %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && time.Duration(d) != tc.want:
			t.Errorf("Unpack(%v) = %v, want %v", tc.in, time.Duration(d), tc.want)
		}
	}
}
