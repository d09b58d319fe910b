// Package script assembles the Starlark runtime of vicish so that the vicish
// program and any Go program embedding it run scripts the same way: the same
// predeclared globals (the vici module, the standard library modules, help,
// exit, pp), the same dialect (while loops, sets, top-level control flow,
// global reassignment, recursion), threads that carry a context, and the same
// error messages and exit codes.
//
// An embedder makes one Runtime, runs code with it, and closes it:
//
//	rt := script.New(script.Options{URI: "unix:///var/run/charon.vici"})
//	defer rt.Close()
//	_, err := rt.ExecFile(ctx, "runbook.star", nil)
//	if err != nil {
//		fmt.Fprintln(os.Stderr, rt.FormatError(err))
//		os.Exit(script.ExitCode(ctx, err))
//	}
//
// To drive a thread of its own, an embedder asks for the globals with
// Predeclared and for a prepared thread with NewThread.
package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/internal/readfile"
	"github.com/vicish/vicish/redact"
	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/stdlib/http"
	"github.com/vicish/vicish/stdlib/json"
	"github.com/vicish/vicish/vici"
)

// Options configure a Runtime. The zero value is usable: default URI
// discovery, no deadline, the process's standard streams and environment,
// no capability granted (exec, http and file.write refuse every call).
type Options struct {
	// URI of the daemon's VICI socket; "" means discovery ($VICI_URI, then
	// strongswan.conf, then vici.DefaultURI).
	URI string
	// Deadline is the default client-side limit per command; 0 means none.
	Deadline time.Duration
	// Argv becomes sys.argv; Argv[0] names the script.
	Argv []string
	// Stdout receives print() and module output; nil means os.Stdout.
	Stdout io.Writer
	// Stderr receives log output and listen() callback errors; nil means os.Stderr.
	Stderr io.Writer
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Allow lists the capabilities granted to scripts (capability.All
	// describes them): capability.Exec enables the exec module,
	// capability.Net the http module and vici.connect to a remote
	// transport (tcp://, ssh://) the user did not give as URI,
	// capability.Write file.write. The runtime's refusal of another names
	// the vicish flag that grants it (Flag).
	Allow []capability.Capability
	// LogJSON makes the log module write JSON lines.
	LogJSON bool
	// Predeclared adds (or replaces) globals after the built-in ones.
	Predeclared starlark.StringDict
	// Extra adds globals and modules declared as rows, as the runtime's
	// own are: help(), completion and Registry know them (vicish test adds
	// assert, fake, run ... to test files this way).
	Extra registry.Registry
	// Collecting is passed to the vici module (starlarkvici.Config):
	// called while a streamed listing is collected into a list.
	Collecting func() (done func())
	// MaxListing and MaxEventQueue are the vici module's memory budgets
	// (starlarkvici.Config): for a listing collected into a list, and for
	// the events queued for one session. 0 means the default, less than
	// 0 no limit.
	MaxListing, MaxEventQueue int
	// Dial is passed to the vici module (starlarkvici.Config): it makes
	// every daemon connection instead of the transport the URI names.
	Dial func(ctx context.Context, uri string) (net.Conn, error)
	// Secrets is the set of secrets the runtime keeps out of what it
	// writes (Runtime.Secrets); nil means a new one. A host shares it to
	// redact what it writes itself (vicish --record).
	Secrets *redact.Secrets
}

// Runtime is an assembled vicish Starlark environment. Its globals are
// frozen and may be shared by several threads; each thread must be used by
// one goroutine at a time. Close releases the daemon connections.
type Runtime struct {
	opts        Options
	vici        *starlarkvici.Module
	predeclared starlark.StringDict
	secrets     *redact.Secrets
	gate        *capability.Gate // grants opts.Allow; every gated builtin asks it
	servers     *http.Servers    // what scripts opened with http.listen, closed by Close
	reg         *registry.Registry
	stdout      io.Writer // opts.Stdout through the redaction
	stderr      io.Writer // opts.Stderr through the redaction

	mu      sync.Mutex
	cache   map[string]*loadEntry           // load() results by absolute path
	waiting map[*starlark.Thread]*loadEntry // the file each thread waits for another to load
}

// loadEntry is one file's load() result; done is closed when it is known.
type loadEntry struct {
	owner   *starlark.Thread // the thread loading it
	done    chan struct{}
	globals starlark.StringDict
	err     error
}

// New assembles a Runtime. It does not connect: the vici module dials on
// first use.
func New(opts Options) *Runtime {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Secrets == nil {
		opts.Secrets = redact.New()
	}
	r := &Runtime{opts: opts, secrets: opts.Secrets, gate: capability.NewGate(Flag, opts.Allow...), servers: http.NewServers(), cache: map[string]*loadEntry{}}
	r.stdout, r.stderr = r.secrets.Writer(opts.Stdout), r.secrets.Writer(opts.Stderr)
	r.vici = starlarkvici.NewModule(starlarkvici.Config{
		URI:           opts.URI,
		Deadline:      opts.Deadline,
		Stderr:        r.stderr,
		Getenv:        opts.Getenv,
		BeforeCall:    r.learnCall,
		CheckURI:      r.checkURI,
		Collecting:    opts.Collecting,
		MaxListing:    opts.MaxListing,
		MaxEventQueue: opts.MaxEventQueue,
		Dial:          opts.Dial,
	})
	r.reg = r.newRegistry()
	r.predeclared = r.assemble()
	for name, v := range opts.Predeclared {
		r.predeclared[name] = v
	}
	r.predeclared.Freeze()
	return r
}

// Close closes the vici module's connections and the servers scripts
// opened with http.listen.
func (r *Runtime) Close() error { return errors.Join(r.vici.Close(), r.servers.Close()) }

// Vici returns the runtime's vici module (the value of the global "vici").
func (r *Runtime) Vici() *starlarkvici.Module { return r.vici }

// Secrets returns the runtime's set of secret strings, which every output of
// the runtime keeps out (see Secrets).
func (r *Runtime) Secrets() *redact.Secrets { return r.secrets }

// Stdout returns the runtime's standard output (Options.Stdout) with known
// secrets redacted: print, pp and module output go there, and a host
// showing values (a REPL's echo) should write there too.
func (r *Runtime) Stdout() io.Writer { return r.stdout }

// Stderr returns the runtime's standard error (Options.Stderr) with known
// secrets redacted: log lines and callback errors go there, and a host
// should write error messages there too.
func (r *Runtime) Stderr() io.Writer { return r.stderr }

// checkURI is the policy for a URI a script gives vici.connect or
// vici.group: a local transport (unix://, or a path) is allowed; so is the
// URI the user gave (Options.URI, $VICI_URI); any other (tcp://, ssh://,
// whatever transport the engine learns) needs capability.Net, since a
// script could otherwise send bytes to any host. A URI no transport can
// dial is refused for what it is, so that the message does not send the
// user to --allow-net.
func (r *Runtime) checkURI(uri string) error {
	if _, _, err := vici.ParseURI(uri); err != nil {
		return err
	}
	if isLocalURI(uri) || uri == r.opts.URI || uri == r.opts.Getenv("VICI_URI") {
		return nil
	}
	if err := r.gate.Check(capability.Net, uri+" is a remote transport"); err != nil {
		return fmt.Errorf("%w unless given with --uri or $VICI_URI", err)
	}
	return nil
}

// Flag is the vicish command-line flag that grants capability c:
// "--allow-exec". The runtime's refusals name it.
func Flag(c capability.Capability) string { return "--allow-" + string(c) }

// CheckURI reports whether uri is a VICI socket URI vicish can dial
// (unix://, tcp://, ssh:// or a bare path); the error says what is wrong.
// It does not dial.
func CheckURI(uri string) error {
	_, _, err := vici.ParseURI(uri)
	return err
}

// isLocalURI reports whether uri names a transport on this machine: a
// unix:// URI or a plain path. Every other scheme is remote.
func isLocalURI(uri string) bool {
	scheme, _, found := strings.Cut(uri, "://")
	return !found || scheme == "unix"
}

// learnCall records the secrets among a vici builtin's arguments: the key
// material of load_shared, load_key, load_token and of vici.call or
// vici.stream of those commands.
func (r *Runtime) learnCall(builtin string, args starlark.Tuple, kwargs []starlark.Tuple) {
	command := builtin
	if (builtin == "vici.call" || builtin == "vici.stream") && len(args) > 0 {
		if wire, ok := starlark.AsString(args[0]); ok {
			command = wire
		}
	}
	r.secrets.LearnArgs(command, args, kwargs)
}

// Predeclared returns a copy of the runtime's global names and values. The
// values are shared and frozen; the map is the caller's.
func (r *Runtime) Predeclared() starlark.StringDict {
	d := make(starlark.StringDict, len(r.predeclared))
	for k, v := range r.predeclared {
		d[k] = v
	}
	return d
}

// FileOptions returns the dialect vicish scripts are written in: while
// loops, sets, if/for/while at top level, reassignment of globals and
// recursion are all allowed, so runbooks read like Python programs.
func FileOptions() *syntax.FileOptions {
	return &syntax.FileOptions{
		Set:             true,
		While:           true,
		TopLevelControl: true,
		GlobalReassign:  true,
		Recursion:       true,
	}
}

// NewThread returns a thread named name whose print() writes lines to the
// runtime's Stdout, whose load() resolves files relative to the loading
// file, and which carries ctx (see package starctx): when ctx ends, blocking
// builtins return and the thread is cancelled. Call release when the thread
// has finished running.
func (r *Runtime) NewThread(ctx context.Context, name string) (thread *starlark.Thread, release func()) {
	out := r.stdout
	thread = &starlark.Thread{
		Name:  name,
		Print: func(_ *starlark.Thread, msg string) { fmt.Fprintln(out, msg) },
		Load:  r.load,
	}
	return thread, starctx.Attach(thread, ctx)
}

// ExecFile runs a program on a new thread carrying ctx and returns its
// globals. src is as for starlark.ExecFileOptions: nil reads filename,
// otherwise a string, []byte or io.Reader holding the source.
func (r *Runtime) ExecFile(ctx context.Context, filename string, src any) (starlark.StringDict, error) {
	thread, release := r.NewThread(ctx, filename)
	defer release()
	return r.Exec(thread, filename, src)
}

// Eval evaluates one expression, given as source text, on a new thread
// carrying ctx, as vicish -e does. The runtime learns the secrets written
// in it and held by its value, so Show redacts them.
func (r *Runtime) Eval(ctx context.Context, filename, expr string) (starlark.Value, error) {
	thread, release := r.NewThread(ctx, filename)
	defer release()
	f, err := FileOptions().ParseExpr(filename, expr, 0)
	if err != nil {
		return nil, err
	}
	r.secrets.ScanSource(&syntax.File{Stmts: []syntax.Stmt{&syntax.ExprStmt{X: f}}})
	v, err := starlark.EvalExprOptions(FileOptions(), thread, f, r.predeclared)
	if err == nil {
		r.secrets.Learn(v)
	}
	return v, err
}

// Show writes v to the runtime's (redacting) Stdout as the REPL echoes it:
// through the Printer at the given width (0 means 80), nothing for None
// or an empty rendered table (as swanctl prints nothing for no SAs);
// or, with asJSON, as one line of JSON from stdlib/json's encoder (dicts in
// the daemon's order, bytes as base64; None is null). ctx ends a long
// rendering.
func (r *Runtime) Show(ctx context.Context, v starlark.Value, width int, asJSON bool) error {
	r.secrets.Learn(v)
	if asJSON {
		b, err := json.Encode(ctx, v)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return fmt.Errorf("--json: the value has no JSON form: %w", err)
		}
		_, err = fmt.Fprintf(r.stdout, "%s\n", b)
		return err
	}
	if v == starlark.None || v == display.Text("") {
		return nil
	}
	p := &Printer{Width: width, Secrets: r.secrets, Context: ctx}
	text, err := p.Format(v)
	if err != nil {
		return starctx.Interrupted(ctx)
	}
	_, err = fmt.Fprintln(r.stdout, text)
	return err
}

// Exec runs a program on thread, which should come from NewThread.
func (r *Runtime) Exec(thread *starlark.Thread, filename string, src any) (starlark.StringDict, error) {
	switch rd := src.(type) {
	case nil:
		b, err := readfile.Read(filename, readfile.DefaultLimit)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("cannot read script: %w", err)}
		}
		src = b
	case io.Reader:
		b, err := io.ReadAll(rd)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("cannot read script: %w", err)}
		}
		src = b
	}
	r.scan(filename, src)
	globals, err := starlark.ExecFileOptions(FileOptions(), thread, filename, src, r.predeclared)
	if err != nil {
		// the error message may show a secret held by a global
		for _, v := range globals {
			r.secrets.Learn(v)
		}
	}
	return globals, err
}

// scan records the secrets written in a program's source, so that error
// messages never show them (see Secrets.ScanSource).
func (r *Runtime) scan(filename string, src any) {
	if f, err := FileOptions().Parse(filename, src, 0); err == nil {
		r.secrets.ScanSource(f)
	}
}

// load implements load("path.star", ...): the path is taken relative to the
// directory of the file that loads it; each file runs once per runtime, on
// the loading thread, so cancellation reaches it.
func (r *Runtime) load(thread *starlark.Thread, module string) (starlark.StringDict, error) {
	path := module
	if !filepath.IsAbs(path) {
		dir := "."
		if thread.CallStackDepth() > 0 {
			if from := thread.CallFrame(0).Pos.Filename(); from != "" && from[0] != '<' {
				dir = filepath.Dir(from)
			}
		}
		path = filepath.Join(dir, module)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	r.mu.Lock()
	e, seen := r.cache[path]
	if seen {
		r.mu.Unlock()
		return r.await(thread, module, e)
	}
	e = &loadEntry{owner: thread, done: make(chan struct{})}
	r.cache[path] = e
	r.mu.Unlock()
	defer close(e.done)
	src, err := readfile.Read(path, readfile.DefaultLimit)
	if err != nil {
		e.err = fmt.Errorf("load %q: %w", module, err)
		return nil, e.err
	}
	r.scan(path, src)
	e.globals, e.err = starlark.ExecFileOptions(FileOptions(), thread, path, src, r.predeclared)
	return e.globals, e.err
}

// await returns the result of e, a file that thread found in the cache,
// waiting while another thread loads it. A wait that would close a circle
// (this thread loads a file that the thread loading e waits for, directly
// or through others) is a cycle in the load graph, not a deadlock; the
// wait also ends when thread is cancelled.
func (r *Runtime) await(thread *starlark.Thread, module string, e *loadEntry) (starlark.StringDict, error) {
	select {
	case <-e.done:
		return e.globals, e.err
	default:
	}
	r.mu.Lock()
	for w := e; w != nil; w = r.waiting[w.owner] {
		if w.owner == thread {
			r.mu.Unlock()
			return nil, fmt.Errorf("load %q: cycle in load graph", module)
		}
	}
	if r.waiting == nil {
		r.waiting = map[*starlark.Thread]*loadEntry{}
	}
	r.waiting[thread] = e
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, thread)
		r.mu.Unlock()
	}()
	ctx := starctx.From(thread)
	select {
	case <-e.done:
		return e.globals, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("load %q: %w", module, starctx.Interrupted(ctx))
	}
}
