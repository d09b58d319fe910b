// Command embed shows a Go program running Starlark with vicish's runtime:
// its own thread gets the vici module and the standard library through
// package script, runs a small report, and then calls a Starlark function
// from Go. A secret of the host's (an API token it hands the script) is
// registered with the runtime's redaction, so nothing the runtime writes
// shows it.
//
//	go run ./examples/embed --uri unix:///var/run/charon.vici
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/script"
)

// program is the Starlark the example runs. It uses the predeclared vici
// module, and host_name and api_token, globals the host adds.
const program = `
v = vici.version()
sas = vici.list_sas()
print("%s %s on %s: %d IKE_SAs" % (v["daemon"], v["version"], host_name, len(sas)))
print("inventory token:", api_token)

def report(extra = None):
    """A summary the Go side asks for after the program ran."""
    return {"daemon": v["daemon"], "ike_sas": len(sas), "extra": extra}
`

func main() {
	uri := flag.String("uri", "", "the daemon's VICI socket (default: $VICI_URI, strongswan.conf, unix:///var/run/charon.vici)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, *uri, os.Stdout, os.Stderr))
}

// run executes program against the daemon at uri and returns an exit code
// as vicish would.
func run(ctx context.Context, uri string, stdout, stderr io.Writer) int {
	const token = "inventory-token-0042"
	rt := script.New(script.Options{
		URI:    uri,
		Stdout: stdout,
		Stderr: stderr,
		Predeclared: starlark.StringDict{
			"host_name": starlark.String("embed-example"),
			"api_token": starlark.String(token),
		},
	})
	defer rt.Close()
	// The runtime redacts the token from everything it writes, and from
	// what we write through rt.Stdout() and rt.Stderr().
	rt.Secrets().Add(token)
	stdout, stderr = rt.Stdout(), rt.Stderr()

	// A thread of our own: print goes to stdout, ctx cancels blocking calls.
	thread, release := rt.NewThread(ctx, "embed")
	defer release()
	globals, err := starlark.ExecFileOptions(script.FileOptions(), thread, "report.star", program, rt.Predeclared())
	if err != nil {
		fmt.Fprintln(stderr, rt.FormatError(err))
		return script.ExitCode(ctx, err)
	}

	// Call back into Starlark from Go.
	v, err := starlark.Call(thread, globals["report"], starlark.Tuple{starlark.String("from Go")}, nil)
	if err != nil {
		fmt.Fprintln(stderr, rt.FormatError(err))
		return script.ExitCode(ctx, err)
	}
	fmt.Fprintf(stdout, "report() = %s\n", v)
	return script.ExitOK
}
