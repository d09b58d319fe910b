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
	"go.starlark.net/syntax"

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
	predeclared := starlark.StringDict{"time": stdtime.NewModule(), "assert": assert["assert"],
		// ready() closes the channel in the thread's local "ready"
		"ready": starlark.NewBuiltin("ready", func(thread *starlark.Thread, _ *starlark.Builtin, _ starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
			close(thread.Local("ready").(chan struct{}))
			return starlark.None, nil
		}),
	}
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "test.star", src, predeclared)
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
assert.fails(lambda: time.sleep(-1), "time.sleep: .*duration -1 seconds is negative")
assert.fails(lambda: time.sleep("soon"), 'time.sleep: .*"soon" is not a duration')
assert.fails(lambda: time.sleep([]), "time.sleep: .*got list, want seconds")
assert.fails(lambda: time.sleep(), "time.sleep: got 0 arguments, want 1")
assert.fails(lambda: time.sleep(None), "time.sleep: got None, want seconds")
assert.fails(lambda: time.sleep(9223372036.9), "time.sleep: .*too long")
`
	if err := exec(t, thread, src); err != nil {
		t.Fatal(err)
	}
}

func TestSleepCancelled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel func(context.CancelCauseFunc, <-chan struct{})
	}{
		// after the script reached the statement before the sleep
		// (cancelled earlier, the interpreter itself would stop it)
		{"during", func(cancel context.CancelCauseFunc, ready <-chan struct{}) {
			go func() {
				<-ready
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
			ready := make(chan struct{})
			tc.cancel(cancel, ready)
			thread.SetLocal("ready", ready)
			// An hour: the test only finishes if the cancellation ends the sleep.
			err := exec(t, thread, `ready()
time.sleep(3600)`)
			if !errors.Is(err, starctx.ErrInterrupted) {
				t.Fatalf("got %v, want an error wrapping ErrInterrupted", err)
			}
			if !strings.Contains(err.Error(), "time.sleep: interrupted: operator pressed Ctrl-C") {
				t.Errorf("error %q does not say why the sleep ended", err)
			}
		})
	}
}

// TestErrorsNameTheBuiltinOnce: a lib/time builtin's error starts with
// "time.NAME: " once, as every vicish builtin's error does (found by the red
// team: "Error in time.time: time: for parameter year: ...").
func TestErrorsNameTheBuiltinOnce(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`time.time(year=None)`, `time.time: for parameter "year": got NoneType, want int`},
		{`time.parse_time(1)`, "time.parse_time: for parameter x: got int, want string"},
		{`time.parse_duration()`, "time.parse_duration: got 0 arguments, want 1"},
		{`time.from_timestamp("x")`, "time.from_timestamp: for parameter 1: got string, want int"},
		{`time.is_valid_timezone(None)`, "time.is_valid_timezone: for parameter 1: got NoneType, want string"},
	} {
		err := exec(t, &starlark.Thread{Name: "test"}, tc.src)
		var eval *starlark.EvalError
		if !errors.As(err, &eval) || eval.Msg != tc.want {
			t.Errorf("%s: got %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestEveryLibBuiltin: the module has each member of go.starlark.net's
// lib/time (a builtin it adds in a new release needs a row in Spec).
func TestEveryLibBuiltin(t *testing.T) {
	m := stdtime.NewModule()
	for name := range libtime.Module.Members {
		if _, ok := m.Members[name]; !ok {
			t.Errorf("time.%s of lib/time is missing", name)
		}
	}
}
