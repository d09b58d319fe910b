package starlarkvici_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/starlarkvici"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// A Go program gives its own Starlark thread the vici module. Ctrl-C
// cancels the context, which stops any command, listen() or wait() in
// flight. (Not run as a test: it needs a charon daemon.)
func ExampleNewModule() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	const script = `
v = vici.version()
print(v["daemon"], v["version"])
for sa in vici.list_sas():
    print(sa.keys())
`
	mod := starlarkvici.NewModule(starlarkvici.Config{URI: os.Getenv("VICI_URI"), Deadline: 30 * time.Second})
	defer mod.Close()
	thread := &starlark.Thread{Name: "main"}
	release := starctx.Attach(thread, ctx) // cancelling ctx stops any command, listen or wait
	defer release()
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}
	_, err := starlark.ExecFileOptions(opts, thread, "script.star", script, starlark.StringDict{"vici": mod})
	if err != nil {
		if e, ok := err.(*starlark.EvalError); ok {
			fmt.Fprintln(os.Stderr, e.Backtrace())
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
	}
}
