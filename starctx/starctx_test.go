package starctx_test

import (
	"context"
	"errors"
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
