package startest

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/script"
)

// proc is a script a test started: a runtime of its own (its vici reaching
// the test's fake daemons), running on a goroutine of its own, as vicish
// would run it.
type proc struct {
	t      *testRun
	path   string
	origin *origin
	rt     *script.Runtime
	cancel context.CancelCauseFunc
	stdout *lines
	stderr *lines
	done   chan struct{}
	code   int // once done is closed
}

var _ starlark.HasAttrs = (*proc)(nil)

// startArgs are the arguments run and start take.
type startArgs struct {
	path  string
	args  []string
	uri   string
	allow []capability.Capability
	env   map[string]string
}

func unpackStart(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (startArgs, error) {
	var a startArgs
	var argv, allow *starlark.List
	var env *starlark.Dict
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &a.path, "args?", &argv, "uri?", &a.uri, "allow?", &allow, "env?", &env); err != nil {
		return a, err
	}
	var err error
	if a.args, err = stringList(b.Name()+": args", argv); err != nil {
		return a, err
	}
	names, err := stringList(b.Name()+": allow", allow)
	if err != nil {
		return a, err
	}
	for _, name := range names {
		c := capability.Capability(name)
		if _, ok := capability.Describe(c); !ok {
			var known []string
			for _, i := range capability.All() {
				known = append(known, string(i.Name))
			}
			return a, fmt.Errorf("%s: allow: no capability %q (%s: what vicish's --allow-NAME flags grant)", b.Name(), name, strings.Join(known, ", "))
		}
		a.allow = append(a.allow, c)
	}
	if env != nil {
		a.env = map[string]string{}
		for _, kv := range env.Items() {
			k, ok1 := starlark.AsString(kv[0])
			v, ok2 := starlark.AsString(kv[1])
			if !ok1 || !ok2 {
				return a, fmt.Errorf("%s: env: got %s: %s, want str: str", b.Name(), kv[0].Type(), kv[1].Type())
			}
			a.env[k] = v
		}
	}
	return a, nil
}

func stringList(what string, l *starlark.List) ([]string, error) {
	if l == nil {
		return nil, nil
	}
	out := make([]string, 0, l.Len())
	for i := range l.Len() {
		s, ok := starlark.AsString(l.Index(i))
		if !ok {
			return nil, fmt.Errorf("%s: element %d is a %s, want str", what, i, l.Index(i).Type())
		}
		out = append(out, s)
	}
	return out, nil
}

// runBuiltin implements run(path, args=[], uri=None, allow=[], env={}):
// it runs the script to its end and returns its result.
func runBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackStart(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	p := testOf(thread).start(thread, a)
	if err := p.wait(thread); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return p.result(), nil
}

// startBuiltin implements start(...): the script runs on while the test
// goes on; the value returned reads its output, stops it, waits for it.
func startBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	a, err := unpackStart(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	return testOf(thread).start(thread, a), nil
}

// start starts a script, the path taken relative to the directory of the
// file calling (as load does).
func (t *testRun) start(thread *starlark.Thread, a startArgs) *proc {
	path := relativeTo(thread, a.path)
	uri := a.uri
	if uri == "" {
		uri = DefaultURI
	}
	p := &proc{t: t, path: path, origin: &origin{set: t.fakes, script: true}, stdout: newLines(), stderr: newLines(), done: make(chan struct{})}
	p.rt = script.New(script.Options{
		URI:    uri,
		Argv:   append([]string{path}, a.args...),
		Stdout: p.stdout,
		Stderr: p.stderr,
		Getenv: func(k string) string { return a.env[k] },
		Allow:  a.allow,
		Dial:   p.origin.dial,
		// What the script learns is a secret stays out of the test's
		// report too (its requests' values, a failed assertion).
		Secrets: t.rt.Secrets(),
	})
	ctx, cancel := context.WithCancelCause(t.ctx)
	p.cancel = cancel
	t.mu.Lock()
	t.procs = append(t.procs, p)
	t.mu.Unlock()
	go func() {
		defer close(p.done)
		defer p.stderr.close()
		defer p.stdout.close()
		defer p.rt.Close()
		_, err := p.rt.ExecFile(ctx, path, nil)
		p.code = exitCode(p.rt, ctx, err)
	}()
	return p
}

// relativeTo returns path taken relative to the directory of the file
// whose code called the builtin running on thread, as load() takes it.
func relativeTo(thread *starlark.Thread, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(thread.CallFrame(1).Pos.Filename()), path)
}

// exitCode maps a script's outcome to vicish's exit code, writing the
// error to the script's standard error as vicish does.
func exitCode(rt *script.Runtime, ctx context.Context, err error) int {
	if err == nil {
		return script.ExitOK
	}
	if code, ok := script.ExitRequested(err); ok {
		if msg := script.ExitMessage(err); msg != "" {
			fmt.Fprintln(rt.Stderr(), msg)
		}
		return code
	}
	code := script.ExitCode(ctx, err)
	switch code {
	case script.ExitInterrupted, script.ExitTerminated:
		fmt.Fprintf(rt.Stderr(), "vicish: %v\n", context.Cause(ctx))
	default:
		fmt.Fprintln(rt.Stderr(), rt.FormatError(err))
	}
	return code
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for the script to end, on the test's thread.
func (p *proc) wait(thread *starlark.Thread) error {
	return p.t.await(thread, p.done, p.path+" did not end")
}

// result is what run returns: the exit code, the output, the standard
// error and the requests the script sent, in order.
func (p *proc) result() starlark.Value {
	r := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"code":     starlark.MakeInt(p.code),
		"output":   starlark.String(p.stdout.String()),
		"stderr":   starlark.String(p.stderr.String()),
		"requests": starlark.NewList(p.origin.logged()),
	})
	r.Freeze()
	return r
}

// Starlark value of a started script.

func (p *proc) String() string        { return fmt.Sprintf("<script %s>", p.path) }
func (p *proc) Type() string          { return "script" }
func (p *proc) Freeze()               {}
func (p *proc) Truth() starlark.Bool  { return true }
func (p *proc) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: script") }

func (p *proc) AttrNames() []string {
	names := []string{"next_line", "stop", "interrupt", "wait", "requests", "path"}
	sort.Strings(names)
	return names
}

func (p *proc) Attr(name string) (starlark.Value, error) {
	switch name {
	case "path":
		return starlark.String(p.path), nil
	case "requests":
		return starlark.NewList(p.origin.logged()), nil
	case "next_line":
		return starlark.NewBuiltin("next_line", p.nextLine), nil
	case "wait":
		return starlark.NewBuiltin("wait", p.waitBuiltin), nil
	case "stop":
		return starlark.NewBuiltin("stop", p.stopBuiltin(script.ErrTerminated)), nil
	case "interrupt":
		return starlark.NewBuiltin("interrupt", p.stopBuiltin(script.ErrInterrupted)), nil
	}
	return nil, nil
}

// nextLine implements p.next_line(stderr=False): the next line the script
// writes (without its newline), waiting for it; None once the script has
// ended and every line was read.
func (p *proc) nextLine(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var stderr bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "stderr?", &stderr); err != nil {
		return nil, err
	}
	l := p.stdout
	if stderr {
		l = p.stderr
	}
	for {
		line, ok, changed := l.next()
		if ok {
			return starlark.String(line), nil
		}
		if changed == nil { // closed, all read
			return starlark.None, nil
		}
		if err := p.t.await(thread, changed, "waiting for a line of "+p.path); err != nil {
			return nil, err
		}
	}
}

// waitBuiltin implements p.wait(): the result once the script ends.
func (p *proc) waitBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if err := p.wait(thread); err != nil {
		return nil, err
	}
	return p.result(), nil
}

// stopBuiltin implements p.stop() (SIGTERM) and p.interrupt() (Ctrl-C):
// the script is cancelled as by the signal; the result once it ends.
func (p *proc) stopBuiltin(cause error) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
			return nil, err
		}
		p.cancel(cause)
		if err := p.wait(thread); err != nil {
			return nil, err
		}
		return p.result(), nil
	}
}

// lines is a script's output: all of it, and the lines not yet read.
type lines struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	read    int           // bytes next_line has returned
	changed chan struct{} // closed at the next write or close
	closed  bool
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(b), nil
}

func (l *lines) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	close(l.changed)
	l.changed = make(chan struct{})
}

// next returns the next unread line; else a channel closed when more
// comes, or nil when nothing more will.
func (l *lines) next() (line string, ok bool, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rest := l.buf.Bytes()[l.read:]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		l.read += i + 1
		return string(rest[:i]), true, nil
	}
	if l.closed {
		if len(rest) > 0 {
			l.read += len(rest)
			return string(rest), true, nil
		}
		return "", false, nil
	}
	return "", false, l.changed
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
