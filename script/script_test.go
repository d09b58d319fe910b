package script_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/script"
	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/stdlib/sys"
	"github.com/vicish/vicish/vici"
)

// newRuntime returns a runtime whose output is captured and whose daemon
// socket does not exist.
func newRuntime(t *testing.T, argv ...string) (*script.Runtime, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	rt := script.New(script.Options{
		URI:    "unix://" + filepath.Join(t.TempDir(), "absent.vici"),
		Argv:   argv,
		Stdout: &out,
		Stderr: &out,
		Getenv: func(string) string { return "" },
	})
	t.Cleanup(func() { rt.Close() })
	return rt, &out
}

func TestPredeclaredNames(t *testing.T) {
	rt, _ := newRuntime(t)
	var names []string
	for name := range rt.Predeclared() {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"exec", "exit", "file", "help", "http", "json", "log", "pp", "print", "quit", "repr", "str", "struct", "swanctl", "sys", "table", "time", "vici", "x509"}
	if !slices.Equal(names, want) {
		t.Errorf("predeclared %v, want %v", names, want)
	}
	if rt.Predeclared()["vici"] != rt.Vici() {
		t.Error(`the global "vici" is not the runtime's module`)
	}
}

// TestDialect: runbooks are written like Python programs.
func TestDialect(t *testing.T) {
	rt, out := newRuntime(t, "runbook.star", "--peer", "b")
	src := `
tries = 0
while tries < 3:
    tries += 1
seen = set([1, 2, 2])
def fact(n):
    return 1 if n < 2 else n * fact(n - 1)
if len(sys.argv) == 3:
    print(tries, len(seen), fact(5), sys.argv[1:])
`
	if _, err := rt.ExecFile(context.Background(), "runbook.star", src); err != nil {
		t.Fatal(rt.FormatError(err))
	}
	if got := out.String(); got != "3 2 120 [\"--peer\", \"b\"]\n" {
		t.Errorf("output %q", got)
	}
}

func TestExitCode(t *testing.T) {
	ctx := context.Background()
	interrupted, cancel := context.WithCancelCause(ctx)
	cancel(script.ErrInterrupted)
	terminated, cancel2 := context.WithCancelCause(ctx)
	cancel2(script.ErrTerminated)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		src  string
		want int
	}{
		{"success", ctx, "x = 1", 0},
		{"exit(n)", ctx, "def f():\n    exit(9)\nf()", 9},
		{"sys.exit(message)", ctx, "sys.exit('no peer')", 1},
		{"fail", ctx, "fail('boom')", 1},
		{"runtime error", ctx, "x = {}['k']", 1},
		{"syntax error", ctx, "x = = 1", 2},
		{"resolve error", ctx, "print(nope)", 2},
		{"daemon unreachable", ctx, "vici.version()", 3},
		{"interrupted", interrupted, "while True:\n    pass", 130},
		{"terminated", terminated, "while True:\n    pass", 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, _ := newRuntime(t)
			_, err := rt.ExecFile(tc.ctx, "t.star", tc.src)
			if got := script.ExitCode(tc.ctx, err); got != tc.want {
				t.Errorf("ExitCode = %d, want %d (error: %v)", got, tc.want, err)
			}
		})
	}
	if got := script.ExitCode(ctx, &script.UsageError{Err: errors.New("bad flag")}); got != 2 {
		t.Errorf("UsageError: %d, want 2", got)
	}
	if got := script.ExitCode(interrupted, fmt.Errorf("wrapped: %w", &sys.ExitError{Code: 4})); got != 4 {
		t.Errorf("exit(4) during an interruption: %d, want 4", got)
	}
	closed := fmt.Errorf("vici.list_sas: %w", vici.ErrClosed)
	if got := script.ExitCode(ctx, closed); got != 3 {
		t.Errorf("ErrClosed: %d, want 3", got)
	}
}

func TestUnreachableNamesURI(t *testing.T) {
	rt, _ := newRuntime(t)
	_, err := rt.ExecFile(context.Background(), "t.star", "vici.version()")
	var dial *vici.DialError
	if !errors.As(err, &dial) {
		t.Fatalf("error %v does not wrap *vici.DialError", err)
	}
	if msg := rt.FormatError(err); !strings.Contains(msg, rt.Vici().URI()) {
		t.Errorf("message %q does not name the URI %s", msg, rt.Vici().URI())
	}
}

func TestFormatErrorBacktrace(t *testing.T) {
	rt, _ := newRuntime(t)
	src := "def inner():\n    fail('deep')\n\ndef outer():\n    inner()\n\nouter()\n"
	_, err := rt.ExecFile(context.Background(), "bt.star", src)
	want := "Traceback (most recent call last):\n" +
		"  bt.star:7:6: in <toplevel>\n" +
		"  bt.star:5:10: in outer\n" +
		"  bt.star:2:9: in inner\n" +
		"Error in fail: deep"
	if got := rt.FormatError(err); got != want {
		t.Errorf("FormatError:\n%s\nwant:\n%s", got, want)
	}
	_, err = rt.ExecFile(context.Background(), "r.star", "a = b\nc = d\n")
	if got := rt.FormatError(err); got != "r.star:1:5: undefined: b\nr.star:2:5: undefined: d" {
		t.Errorf("resolve errors: %q", got)
	}
}

func TestLoadRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("lib/peers.star", "load('names.star', 'first')\nPEERS = [first, 'c']\n")
	write("lib/names.star", "first = 'b'\n")
	write("main.star", "load('lib/peers.star', 'PEERS')\nprint(PEERS)\n")
	write("cycle_a.star", "load('cycle_b.star', 'x')\n")
	write("cycle_b.star", "load('cycle_a.star', 'x')\nx = 1\n")

	rt, out := newRuntime(t)
	if _, err := rt.ExecFile(context.Background(), filepath.Join(dir, "main.star"), nil); err != nil {
		t.Fatal(rt.FormatError(err))
	}
	if out.String() != "[\"b\", \"c\"]\n" {
		t.Errorf("output %q", out.String())
	}
	_, err := rt.ExecFile(context.Background(), filepath.Join(dir, "cycle_a.star"), nil)
	if err == nil || !strings.Contains(err.Error(), "cycle in load graph") {
		t.Errorf("cycle: %v", err)
	}
}

// Two threads that load two files which load each other, each starting
// with the other's file, would wait for each other forever: one of them
// must find the cycle, and both must return.
func TestLoadCycleAcrossThreads(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"a.star": "a_started()\nload('b.star', 'y')\nx = 1\n",
		"b.star": "b_started()\nload('a.star', 'x')\ny = 2\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aStarted, bStarted := make(chan struct{}), make(chan struct{})
	// Each file waits until the other thread has begun the other file,
	// so that both are being loaded when they load each other.
	started := func(mine, other chan struct{}) *starlark.Builtin {
		return starlark.NewBuiltin("started", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
			close(mine)
			<-other
			return starlark.None, nil
		})
	}
	var out bytes.Buffer
	rt := script.New(script.Options{
		URI:    "unix://" + filepath.Join(t.TempDir(), "absent.vici"),
		Stdout: &out, Stderr: &out,
		Getenv:      func(string) string { return "" },
		Predeclared: starlark.StringDict{"a_started": started(aStarted, bStarted), "b_started": started(bStarted, aStarted)},
	})
	defer rt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard against a hang only
	defer cancel()
	errs := make(chan error, 2)
	for file, src := range map[string]string{"main_a.star": "load('a.star', 'x')", "main_b.star": "load('b.star', 'y')"} {
		go func() {
			_, err := rt.ExecFile(ctx, filepath.Join(dir, file), src)
			errs <- err
		}()
	}
	cycles := 0
	for range 2 {
		err := <-errs
		if ctx.Err() != nil {
			t.Fatal("the two loads waited for each other until the guard's deadline")
		}
		if err == nil {
			t.Fatal("a load of a file in a cycle succeeded")
		}
		if strings.Contains(err.Error(), "cycle in load graph") {
			cycles++
		}
	}
	if cycles == 0 {
		t.Error("neither thread reported the cycle")
	}
}

// TestThreadCarriesContext: cancelling the context stops a blocking
// builtin (time.sleep) promptly, and the error maps to 130.
func TestThreadCarriesContext(t *testing.T) {
	rt, out := newRuntime(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	thread, release := rt.NewThread(ctx, "t")
	defer release()
	thread.Print = func(_ *starlark.Thread, msg string) {
		fmt.Fprintln(out, msg)
		cancel(script.ErrInterrupted) // the host presses Ctrl-C once the script says it sleeps
	}
	_, err := rt.Exec(thread, "sleep.star", "print('sleeping')\ntime.sleep(3600)\nprint('woke')\n")
	if err == nil || script.ExitCode(ctx, err) != 130 {
		t.Fatalf("err %v, exit code %d; want an interruption", err, script.ExitCode(ctx, err))
	}
	if out.String() != "sleeping\n" {
		t.Errorf("output %q", out.String())
	}
}

func TestHelpText(t *testing.T) {
	rt, out := newRuntime(t)
	overview := rt.HelpText(nil)
	for _, c := range starlarkvici.Commands() {
		if !strings.Contains(overview, "vici."+c.Name+" ") {
			t.Errorf("help() does not list vici.%s", c.Name)
		}
	}
	for name := range rt.Predeclared() {
		if !strings.Contains(overview, "\n  "+name+" ") {
			t.Errorf("help() does not list the global %s", name)
		}
	}
	initiate, _ := rt.Vici().Attr("initiate")
	if text := rt.HelpText(initiate); !strings.Contains(text, "child") || !strings.Contains(text, "Returns") {
		t.Errorf("help(vici.initiate) = %q", text)
	}
	src := "def up(peer, timeout = 5):\n    \"\"\"Bring the tunnel to peer up.\"\"\"\n    pass\nhelp(up)\n"
	if _, err := rt.ExecFile(context.Background(), "h.star", src); err != nil {
		t.Fatal(err)
	}
	if out.String() != "up(peer, timeout)\n\nBring the tunnel to peer up.\n" {
		t.Errorf("help(up) printed %q", out.String())
	}
}

func TestKeywordNames(t *testing.T) {
	rt, _ := newRuntime(t)
	initiate, _ := rt.Vici().Attr("initiate")
	if kw := rt.KeywordNames(initiate); !slices.Contains(kw, "child") || !slices.Contains(kw, "ike") {
		t.Errorf("KeywordNames(vici.initiate) = %v", kw)
	}
	globals, err := rt.ExecFile(context.Background(), "k.star", "def f(alpha, beta = 1):\n    pass\n")
	if err != nil {
		t.Fatal(err)
	}
	if kw := rt.KeywordNames(globals["f"]); !slices.Equal(kw, []string{"alpha", "beta"}) {
		t.Errorf("KeywordNames(f) = %v", kw)
	}
	if kw := rt.KeywordNames(rt.Predeclared()["pp"]); !slices.Equal(kw, []string{"x", "limit"}) {
		t.Errorf("KeywordNames(pp) = %v, want x and limit, from the registry", kw)
	}
	if kw := rt.KeywordNames(starlark.NewBuiltin("vici.initiate", nil)); kw != nil {
		t.Errorf("KeywordNames of a look-alike of vici.initiate = %v, want nil", kw)
	}
}

// TestRunnerRedactsSecretsOfItsSource: a secret written in the program is
// kept out of its error messages.
func TestRunnerRedactsSecretsOfItsSource(t *testing.T) {
	rt, _ := newRuntime(t)
	src := "psk = {\"type\": \"IKE\", \"data\": \"swordfish-42\"}\nfail(\"cannot load \" + psk[\"data\"])\n"
	_, err := rt.ExecFile(context.Background(), "p.star", strings.NewReader(src))
	if msg := rt.FormatError(err); strings.Contains(msg, "swordfish") || !strings.Contains(msg, "cannot load <redacted>") {
		t.Errorf("FormatError = %q", msg)
	}
}

// TestFormatErrorRedacts: a secret seen in code never reaches an error
// message, whatever path the value took.
func TestFormatErrorRedacts(t *testing.T) {
	rt, _ := newRuntime(t)
	f, err := (&syntax.FileOptions{}).Parse("s.star", `key = {"type": "IKE", "data": "sekrit-value"}`, 0)
	if err != nil {
		t.Fatal(err)
	}
	rt.Secrets().ScanSource(f)
	_, err = rt.ExecFile(context.Background(), "s.star", `fail("the key is " + "sekrit-" + "value")`)
	if msg := rt.FormatError(err); strings.Contains(msg, "sekrit") || !strings.Contains(msg, "the key is <redacted>") {
		t.Errorf("FormatError = %q", msg)
	}
}

// TestConnectNeedsAllowNet: issue 9, without --allow-net a script reached
// any TCP endpoint with vici.connect("tcp://..."). A remote URI the user
// did not give is refused; the one given, or --allow-net, is dialled.
func TestConnectNeedsAllowNet(t *testing.T) {
	const remote = "tcp://127.0.0.1:1"
	for _, tc := range []struct {
		name    string
		opts    script.Options
		refused bool
	}{
		{"remote refused", script.Options{}, true},
		{"--allow-net", script.Options{Allow: []capability.Capability{capability.Net}}, false},
		{"given with --uri", script.Options{URI: remote}, false},
		{"given as $VICI_URI", script.Options{Getenv: func(k string) string {
			if k == "VICI_URI" {
				return remote
			}
			return ""
		}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			tc.opts.Stdout, tc.opts.Stderr = &out, &out
			if tc.opts.Getenv == nil {
				tc.opts.Getenv = func(string) string { return "" }
			}
			rt := script.New(tc.opts)
			defer rt.Close()
			_, err := rt.ExecFile(context.Background(), "c.star", `vici.connect("`+remote+`")`)
			if err == nil {
				t.Fatal("connect to a closed port succeeded")
			}
			refused := errors.Is(err, capability.ErrDenied)
			if refused != tc.refused {
				t.Errorf("error %q; want refused by the policy = %v", err, tc.refused)
			}
			const msg = remote + " is a remote transport, which needs --allow-net unless given with --uri or $VICI_URI"
			if refused && !strings.Contains(err.Error(), msg) {
				t.Errorf("error %q; want it to say %q", err, msg)
			}
		})
	}
	rt, _ := newRuntime(t)
	sock := "unix://" + filepath.Join(t.TempDir(), "local.vici")
	if _, err := rt.ExecFile(context.Background(), "c.star", `vici.connect("`+sock+`")`); err == nil || strings.Contains(err.Error(), "allow-net") {
		t.Errorf("a unix socket is local and needs no flag: %v", err)
	}
}

// TestConnectMalformedURIWithoutAllowNet: a URI no transport can dial is
// reported as malformed, not as needing --allow-net (which would not help:
// with the flag the user only learns then that the scheme is unsupported).
func TestConnectMalformedURIWithoutAllowNet(t *testing.T) {
	for _, src := range []string{`vici.connect("ftp://y")`, `vici.group({"x": "tcp://no-port"})`} {
		rt, _ := newRuntime(t)
		_, err := rt.ExecFile(context.Background(), "c.star", src)
		if err == nil || strings.Contains(err.Error(), "allow-net") ||
			!(strings.Contains(err.Error(), "unsupported scheme") || strings.Contains(err.Error(), "needs host:port")) {
			t.Errorf("%s: error %v; want the URI's own fault", src, err)
		}
	}
}

// TestPrintAsStarlarks: the runtime's print (which learns secrets first)
// prints what go.starlark.net's print does.
func TestPrintAsStarlarks(t *testing.T) {
	src := `print(b"x\ny", 1, "a", [1, "b"], {"k": (2,)}, None, sep="|")
print()
print("one")`
	var want strings.Builder
	thread := &starlark.Thread{Print: func(_ *starlark.Thread, msg string) { want.WriteString(msg + "\n") }}
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "p.star", src, nil); err != nil {
		t.Fatal(err)
	}
	rt, out := newRuntime(t)
	if _, err := rt.ExecFile(context.Background(), "p.star", src); err != nil {
		t.Fatal(err)
	}
	if out.String() != want.String() {
		t.Errorf("print wrote %q, Starlark's print %q", out.String(), want.String())
	}
}

// TestSecretsInStructs: a struct field named like a secret is one too.
func TestSecretsInStructs(t *testing.T) {
	rt, out := newRuntime(t)
	src := `creds = struct(user = "carol", password = json.decode('"hunter6-struct"'))
print(creds)
print(creds.password)`
	if _, err := rt.ExecFile(context.Background(), "s.star", src); err != nil {
		t.Fatal(rt.FormatError(err))
	}
	if got := out.String(); strings.Contains(got, "hunter6") || !strings.Contains(got, `password = "<redacted>"`) {
		t.Errorf("output %q", got)
	}
}

// TestConfSecretsKeepIdentitiesShown: swanctl.load_conf returns its shared
// secrets under "secrets", each {id, type, data, owners}. Only the data is
// key material: the owners (the identities the secret belongs to, which
// the connections name too), the section's id and the type must not become
// secrets, or every later listing of those connections shows <redacted>
// for their identities. A plain string or a list under a secret key stays
// secret, and so does a dict of such strings.
func TestConfSecretsKeepIdentitiesShown(t *testing.T) {
	dir := t.TempDir()
	conf := `connections {
  branch {
    remote {
      auth = psk
      id = branch.example.net
    }
  }
}
secrets {
  ike-branch {
    id-hq = hq.example.net
    id-branch = branch.example.net
    secret = "hunter14-conf"
  }
  ntlm-x {
    id = domain-user
    secret = "hunter15-ntlm"
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "swanctl.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	rt, out := newRuntime(t)
	src := `c = swanctl.load_conf(` + strconv.Quote(dir) + `)
print("remote id:", c["connections"]["branch"]["branch"]["remote"]["id"])
pp(c["secrets"])
print("psk:", c["secrets"]["ike-branch"]["data"].reveal())
m = {"psk": {"gw1": json.decode('"hunter16-dict"')}, "secrets": [json.decode('"hunter17-list"')]}
pp(m)
print("plain:", m["psk"]["gw1"], m["secrets"][0])
`
	if _, err := rt.ExecFile(context.Background(), "c.star", src); err != nil {
		t.Fatal(rt.FormatError(err))
	}
	got := out.String()
	for _, want := range []string{"remote id: branch.example.net", `"ike-branch"`, `"hq.example.net"`,
		`"domain-user"`, `"ntlm"`, "psk: <redacted>", "plain: <redacted> <redacted>"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, secret := range []string{"hunter14", "hunter15", "hunter16", "hunter17"} {
		if strings.Contains(got, secret) {
			t.Errorf("%s shown:\n%s", secret, got)
		}
	}
}
