package starctx_test

import (
	"math"
	"time"

	"context"
	"errors"
	libtime "go.starlark.net/lib/time"
	"strings"
	"testing"

	"github.com/vicish/vicish/starctx"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

func TestFromWithoutAttach(t *testing.T) {
	if ctx := starctx.From(&starlark.Thread{}); ctx != context.Background() {
		t.Errorf("From on a bare thread = %v, want context.Background()", ctx)
	}
	if ctx := starctx.From(nil); ctx != context.Background() {
		t.Errorf("From(nil) = %v, want context.Background()", ctx)
	}
}

func TestAttachCancelsLoops(t *testing.T) {
	thread := &starlark.Thread{Name: "t"}
	ctx, cancel := context.WithCancelCause(context.Background())
	release := starctx.Attach(thread, ctx)
	defer release()
	if starctx.From(thread) != ctx {
		t.Fatal("From does not return the attached context")
	}
	// A builtin that ends the context stands in for the host's Ctrl-C.
	stop := starlark.NewBuiltin("stop", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		cancel(errors.New("stopped by the host"))
		return starlark.None, nil
	})
	src := "def spin():\n    stop()\n    for i in range(100000000):\n        pass\n\nspin()\n"
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "loop.star", src, starlark.StringDict{"stop": stop})
	if err == nil || !strings.Contains(err.Error(), "stopped by the host") {
		t.Fatalf("loop after cancel: err = %v, want the context's cause", err)
	}
}

func TestReleaseStopsCancelling(t *testing.T) {
	thread := &starlark.Thread{Name: "t"}
	ctx, cancel := context.WithCancel(context.Background())
	starctx.Attach(thread, ctx)()
	cancel()
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "ok.star", "x = [i for i in range(100000)]\n", nil); err != nil {
		t.Fatalf("thread cancelled after release: %v", err)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in      starlark.Value
		want    time.Duration
		set     bool
		wantErr string
	}{
		{starlark.None, 0, false, ""},
		{starlark.MakeInt(5), 5 * time.Second, true, ""},
		{starlark.MakeInt(0), 0, true, ""},
		{starlark.Float(0.25), 250 * time.Millisecond, true, ""},
		{starlark.Float(1e-9), time.Nanosecond, true, ""},
		{starlark.String("1m30s"), 90 * time.Second, true, ""},
		{starlark.String("150ms"), 150 * time.Millisecond, true, ""},
		{starlark.String("1.5"), 1500 * time.Millisecond, true, ""},
		{libtime.Duration(3 * time.Minute), 3 * time.Minute, true, ""},
		{starlark.MakeInt(9223372036), 9223372036 * time.Second, true, ""},
		// issue 9: 9223372036.9 seconds overflowed to a negative duration
		{starlark.Float(9223372036.9), 0, false, "too long"},
		{starlark.MakeInt(9223372037), 0, false, "too long"},
		{starlark.MakeInt64(1 << 62), 0, false, "too long"},
		{starlark.String("9223372036.9"), 0, false, "too long"},
		{starlark.Float(1e300), 0, false, "too long"},
		{starlark.Float(math.Inf(1)), 0, false, "too long"},
		{starlark.Float(math.NaN()), 0, false, "not a duration"},
		{starlark.Float(1e-12), 0, false, "shorter than a nanosecond"},
		{starlark.MakeInt(-1), 0, false, "negative"},
		{starlark.String("-2s"), 0, false, "negative"},
		{starlark.String("soon"), 0, false, `"soon" is not a duration`},
		{starlark.NewList(nil), 0, false, "got list, want seconds"},
	} {
		var d starctx.Duration
		err := d.Unpack(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("Unpack(%v): unexpected error %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("Unpack(%v): got error %v, want one containing %q", tc.in, err, tc.wantErr)
		case tc.wantErr == "" && (d.D != tc.want || d.Set != tc.set):
			t.Errorf("Unpack(%v) = %v (set %v), want %v (set %v)", tc.in, d.D, d.Set, tc.want, tc.set)
		case tc.wantErr != "" && d.Set:
			t.Errorf("Unpack(%v) failed but left Set true", tc.in)
		}
	}
}

func TestParseDurationCommandLine(t *testing.T) {
	for in, want := range map[string]time.Duration{"10": 10 * time.Second, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute} {
		if got, err := starctx.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "x", "9223372036.9", "1e400"} {
		if got, err := starctx.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

func TestInterrupted(t *testing.T) {
	if err := starctx.Interrupted(context.Background()); err != nil {
		t.Fatalf("Interrupted(live context) = %v", err)
	}
	cause := errors.New("shutting down")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	err := starctx.Sleep(ctx, time.Hour)
	if !errors.Is(err, starctx.ErrInterrupted) || !errors.Is(err, cause) || err.Error() != "interrupted: shutting down" {
		t.Fatalf("Sleep on an ended context = %v, want interrupted: shutting down wrapping both", err)
	}
	ctx, cancel = context.WithCancelCause(context.Background())
	cancel(starctx.ErrInterrupted)
	if err := starctx.Interrupted(ctx); err == nil || err.Error() != "interrupted" {
		t.Fatalf("cause ErrInterrupted gives %v, want plain interrupted", err)
	}
	if err := starctx.Sleep(context.Background(), 0); err != nil {
		t.Fatalf("Sleep(0) = %v", err)
	}
}

func TestWithTimeout(t *testing.T) {
	thread := &starlark.Thread{}
	parent, cancel := context.WithCancelCause(context.Background())
	defer starctx.Attach(thread, parent)()
	ctx, stop := starctx.WithTimeout(thread, time.Nanosecond)
	defer stop()
	<-ctx.Done()
	if starctx.Interrupted(parent) != nil {
		t.Fatal("the bound's expiry reads as an interruption of the thread")
	}
	ctx2, stop2 := starctx.WithTimeout(thread, 0)
	defer stop2()
	cancel(errors.New("host"))
	<-ctx2.Done()
	if !errors.Is(starctx.Interrupted(ctx2), starctx.ErrInterrupted) {
		t.Fatal("an unbounded call does not end with the thread's context")
	}
}
