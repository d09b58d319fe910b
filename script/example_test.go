package script_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/vicish/vicish/script"
)

// A Go program runs a runbook the way vicish does: the same globals,
// dialect, error texts and exit codes. (Not run as a test: it needs a
// charon daemon.)
func ExampleRuntime_ExecFile() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	uri := os.Getenv("VICI_URI")

	rt := script.New(script.Options{URI: uri, Argv: []string{"runbook.star"}})
	defer rt.Close()
	_, err := rt.ExecFile(ctx, "runbook.star", nil) // cancelling ctx stops commands, listen() and loops
	if err != nil {
		fmt.Fprintln(os.Stderr, rt.FormatError(err)) // backtrace, secrets redacted
		os.Exit(script.ExitCode(ctx, err))           // 1, 2, 3, exit(n), 130...
	}
}
