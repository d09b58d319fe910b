package script

import (
	"context"
	"errors"
	"fmt"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/sys"
)

// Session is the state of an interactive session (vicish's REPL): globals
// that persist from one input to the next, and one thread that runs them.
// It is used by one goroutine at a time.
type Session struct {
	rt      *Runtime
	thread  *starlark.Thread
	globals starlark.StringDict
	learned map[string]starlark.Value // globals whose secrets were learnt
}

// NewSession returns a session whose globals start as the runtime's
// predeclared names.
func (r *Runtime) NewSession(name string) *Session {
	thread, _ := r.NewThread(context.Background(), name)
	return &Session{rt: r, thread: thread, globals: r.Predeclared(), learned: map[string]starlark.Value{}}
}

// Globals returns the session's globals (the map itself: inputs add to it).
func (s *Session) Globals() starlark.StringDict { return s.globals }

// IsPredeclared reports whether name is still bound to the runtime's own
// value (the user has not rebound help, exit, ...).
func (s *Session) IsPredeclared(name string) bool {
	v, ok := s.rt.predeclared[name]
	return ok && s.globals[name] == v
}

// ParseOptions returns the dialect of interactive input: FileOptions, with
// load() binding globally so that it serves the next inputs.
func ParseOptions() *syntax.FileOptions {
	opts := FileOptions()
	opts.LoadBindsGlobally = true
	return opts
}

// Run runs one parsed input under ctx (when ctx ends, blocking builtins
// return and loops stop). The value of an input that is a single
// expression is returned and, unless None, bound to "_"; statements give
// nil. Before running, the runtime learns the secrets written in the input;
// after, those held by new or rebound globals (k =
// swanctl.load_conf(...)["secrets"]), so that k["data"] shows redacted.
func (s *Session) Run(ctx context.Context, f *syntax.File) (starlark.Value, error) {
	s.rt.secrets.ScanSource(f)
	s.thread.Uncancel()
	release := starctx.Attach(s.thread, ctx)
	defer release()
	defer s.learnGlobals()
	if len(f.Stmts) == 1 {
		if stmt, ok := f.Stmts[0].(*syntax.ExprStmt); ok {
			v, err := starlark.EvalExprOptions(f.Options, s.thread, stmt.X, s.globals)
			if err == nil && v != starlark.None {
				s.globals["_"] = v
			}
			return v, err
		}
	}
	return nil, starlark.ExecREPLChunk(f, s.thread, s.globals)
}

// learnGlobals teaches the runtime the secrets inside globals that are new
// or rebound since the last input.
func (s *Session) learnGlobals() {
	for name, v := range s.globals {
		switch v.(type) {
		case *starlark.Dict, *starlark.List: // compared by identity
			if s.learned[name] == v {
				continue
			}
		}
		s.rt.secrets.Learn(v)
		s.learned[name] = v
	}
}

// ExitMessage returns the message exit("...") or sys.exit("...") asked
// to print, or "".
func ExitMessage(err error) string {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return exit.Message
	}
	return ""
}

// Daemon describes the daemon of the default session from its version
// reply, for a banner: "charon 5.9.8 on Linux 6.1 x86_64 at unix:///...".
func (r *Runtime) Daemon(ctx context.Context) (string, error) {
	client, err := r.vici.Client(ctx)
	if err != nil {
		return "", err
	}
	v, err := client.Call(ctx, "version", nil)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s on %s %s %s at %s", v.Get("daemon"), v.Get("version"),
		v.Get("sysname"), v.Get("release"), v.Get("machine"), client.URI()), nil
}
