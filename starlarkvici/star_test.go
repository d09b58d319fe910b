package starlarkvici

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/swanctl"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"
)

// fileOptions are the dialect vicish runs scripts with.
var fileOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true, Recursion: true}

// syncBuffer is a Config.Stderr a script can read back.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixtures makes a fresh P-256 key and a self-signed CA certificate for
// the credential commands.
func fixtures(t *testing.T) *starlarkstruct.Struct {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "vicish test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"cert_der": starlark.Bytes(der),
		"cert_pem": starlark.String(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"key_pem":  starlark.String(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		"key_der":  starlark.Bytes(p8),
		"subject":  starlark.String("CN=vicish test CA"),
	})
}

// labValue describes the lab to scripts.
func labValue(l *lab.Lab) *starlarkstruct.Struct {
	gw := func(name string) starlark.Value {
		g := l.Gateway(name)
		return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"uri":  starlark.String(g.URI),
			"addr": starlark.String(g.Addr),
		})
	}
	gws := starlark.StringDict{}
	for _, g := range l.Gateways {
		gws[g.Name] = gw(g.Name)
	}
	return starlarkstruct.FromStringDict(starlarkstruct.Default, gws)
}

// runScript runs one .star file against gateway "a" of l with the vici
// module, assert.star, the lab description and test fixtures.
// when_registered(event, uri, command, msg, session=default) runs a
// command on another daemon once the script has registered for event on
// the session (or on every session of a list, None for the default): it
// causes an event that can only arrive after a wait() has started.
func runScript(t *testing.T, l *lab.Lab, file string, ctx context.Context) error {
	t.Helper()
	stderr := &syncBuffer{}
	mod := NewModule(Config{URI: l.Gateway("a").URI, Stderr: stderr})
	defer mod.Close()
	return runWith(t, l, mod, stderr, file, nil, ctx)
}

// runWith runs src (or file, when src is nil) with mod as vici.
func runWith(t *testing.T, l *lab.Lab, mod *Module, stderr *syncBuffer, file string, src any, ctx context.Context) error {
	t.Helper()
	thread := &starlark.Thread{
		Name:  file,
		Print: func(_ *starlark.Thread, msg string) { t.Log(msg) },
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			if module == "assert.star" {
				return starlarktest.LoadAssertModule()
			}
			return nil, starlark.NoSuchAttrError(module)
		},
	}
	starlarktest.SetReporter(thread, t)
	release := starctx.Attach(thread, ctx)
	defer release()
	predeclared := starlark.StringDict{
		"vici":     mod,
		"swanctl":  swanctl.NewModule(swanctl.Config{Client: mod.Client, Stdout: io.Discard}),
		"lab":      labValue(l),
		"fixtures": fixtures(t),
		"struct":   starlark.NewBuiltin("struct", starlarkstruct.Make),
		"help_text": starlark.NewBuiltin("help_text", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			var v starlark.Value
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 1, &v); err != nil {
				return nil, err
			}
			text, ok := Help(v)
			if !ok {
				return starlark.None, nil
			}
			return starlark.String(text), nil
		}),
		"stderr_text": starlark.NewBuiltin("stderr_text", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			return starlark.String(stderr.String()), nil
		}),
		"keyword_names": starlark.NewBuiltin("keyword_names", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			var name string
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 1, &name); err != nil {
				return nil, err
			}
			var out []starlark.Value
			for _, k := range KeywordNames(name) {
				out = append(out, starlark.String(k))
			}
			return starlark.NewList(out), nil
		}),
	}
	// daemon_at_least(min) tells whether gateway a's strongSwan (the
	// version it reported) is min or newer, for the few places where
	// releases really differ; each script checks both behaviours.
	predeclared["daemon_at_least"] = starlark.NewBuiltin("daemon_at_least", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
		var min string
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 1, &min); err != nil {
			return nil, err
		}
		return starlark.Bool(labtest.AtLeast(t, l.Gateway("a"), min)), nil
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	predeclared["when_registered"] = starlark.NewBuiltin("when_registered", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
		var event, uri, command string
		var msg starlark.Value = starlark.NewDict(0)
		var on starlark.Value = starlark.None
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 3, &event, &uri, &command, &msg, &on); err != nil {
			return nil, err
		}
		// the sessions whose registration counts: one, or a list of
		// them where None is the default session
		watched := []*Session{mod.def}
		switch on := on.(type) {
		case *Session:
			watched = []*Session{on}
		case *starlark.List:
			watched = nil
			for i := range on.Len() {
				s, _ := on.Index(i).(*Session)
				if s == nil {
					s = mod.def
				}
				watched = append(watched, s)
			}
		}
		req, err := ToMessage(msg)
		if err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, s := range watched {
				if !registered(ctx, s, event) {
					t.Errorf("when_registered: %s was never registered on %s", event, s.label())
					return
				}
			}
			c, err := vici.Dial(ctx, uri)
			if err != nil {
				t.Errorf("when_registered: %v", err)
				return
			}
			defer c.Close()
			if _, err := c.Call(ctx, command, req); err != nil {
				t.Errorf("when_registered: %s: %v", command, err)
			}
		}()
		return starlark.None, nil
	})
	predeclared["kill_gateway"] = starlark.NewBuiltin("kill_gateway", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
		var name string
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 1, &name); err != nil {
			return nil, err
		}
		return starlark.None, l.Gateway(name).Kill()
	})
	signal := func(name string, sig syscall.Signal) starlark.Value {
		return starlark.NewBuiltin(name, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
			var gw string
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 1, &gw); err != nil {
				return nil, err
			}
			pid := l.Gateway(gw).PID()
			if sig == syscall.SIGSTOP {
				t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
			}
			if err := syscall.Kill(pid, sig); err != nil {
				return nil, err
			}
			if sig == syscall.SIGSTOP {
				// kill returns before the daemon's threads have stopped; a
				// request sent meanwhile could still be answered.
				return starlark.None, waitStopped(pid)
			}
			return starlark.None, nil
		})
	}
	predeclared["stop_gateway"] = signal("stop_gateway", syscall.SIGSTOP) // SIGSTOP: the daemon hangs
	predeclared["cont_gateway"] = signal("cont_gateway", syscall.SIGCONT)
	predeclared["queued"] = starlark.NewBuiltin("queued", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 0); err != nil {
			return nil, err
		}
		return starlark.MakeInt(queuedOf(mod, mod.def)), nil
	})
	// until_queued(s, n) waits until session s has n events queued (its
	// daemon sends them asynchronously, after the command that caused
	// them answered), so that a test can order events of two sessions.
	predeclared["until_queued"] = starlark.NewBuiltin("until_queued", func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
		var s *Session
		var n int
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 2, &s, &n); err != nil {
			return nil, err
		}
		ctx := starctx.From(thread)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for queuedOf(mod, s) < n {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s: %d events queued, waiting for %d: %w", b.Name(), queuedOf(mod, s), n, ctx.Err())
			case <-tick.C:
			}
		}
		return starlark.None, nil
	})
	predeclared["restart_gateway"] = starlark.NewBuiltin("restart_gateway", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kw []starlark.Tuple) (starlark.Value, error) {
		var name string
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kw, 1, &name); err != nil {
			return nil, err
		}
		return starlark.None, l.Gateway(name).Restart(ctx)
	})
	_, err := starlark.ExecFileOptions(fileOptions, thread, file, src, predeclared)
	return err
}

// queuedOf counts the events of session s in mod's inbox, held back, and
// still in its subscription.
func queuedOf(mod *Module, s *Session) int {
	st := &s.events
	st.mu.Lock()
	sub, f := st.sub, st.feed
	st.mu.Unlock()
	if sub == nil {
		return 0
	}
	mod.inbox.mu.Lock()
	defer mod.inbox.mu.Unlock()
	return f.count + sub.Queued()
}

// subscribed reports whether the daemon sends event name to the session
// (for tests that must cause an event only once it is registered).
func (st *eventState) subscribed(name string) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Contains(st.names, name)
}

// registered waits until session s has subscribed to event (a script's
// wait() or on() did it), so a test can cause the event only afterwards.
func registered(ctx context.Context, s *Session, event string) bool {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.events.subscribed(event) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// TestScripts runs each testdata/*.star file against a fresh two-gateway
// lab of real charon daemons.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.star")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test scripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".star"), func(t *testing.T) {
			l := labtest.Start(t, lab.TwoGateways)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := runScript(t, l, file, ctx); err != nil {
				if evalErr, ok := err.(*starlark.EvalError); ok {
					t.Fatal(evalErr.Backtrace())
				}
				t.Fatal(err)
			}
		})
	}
}

// waitStopped waits until every thread of process pid is stopped (state T
// in /proc/PID/task/TID/stat), for at most 10 seconds.
func waitStopped(pid int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		if err != nil {
			return err
		}
		stopped := len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			if err != nil {
				continue // the thread ended
			}
			// The state follows the command name in parentheses.
			i := bytes.LastIndexByte(b, ')')
			if i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
				stopped = false
				break
			}
		}
		if stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d did not stop within 10s", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
