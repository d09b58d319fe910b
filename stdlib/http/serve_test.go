package http_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/http"
)

// serving runs src on its own goroutine with http.listen (from servers)
// and assert predeclared, and a builtin ready(addr) that hands the
// server's address to the test; it returns the address and a channel
// that gets the script's error when it ends.
func serving(t *testing.T, ctx context.Context, servers *http.Servers, src string) (string, <-chan error) {
	t.Helper()
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		thread := &starlark.Thread{Name: "serve"}
		starlarktest.SetReporter(thread, t)
		defer starctx.Attach(thread, ctx)()
		predeclared := starlark.StringDict{
			"http":   http.NewModule(capability.NewGate(nil, capability.Listen), servers),
			"assert": assert["assert"],
			"ready": starlark.NewBuiltin("ready", func(_ *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, _ []starlark.Tuple) (starlark.Value, error) {
				addrs <- string(args[0].(starlark.String))
				return starlark.None, nil
			}),
		}
		_, err := starlark.ExecFileOptions(&syntax.FileOptions{While: true, TopLevelControl: true, GlobalReassign: true}, thread, "serve.star", src, predeclared)
		done <- err
		close(addrs)
	}()
	select {
	case a, ok := <-addrs:
		if !ok {
			t.Fatalf("the script ended before listening: %v", <-done)
		}
		return a, done
	case <-time.After(time.Minute):
		t.Fatal("the script did not listen within a minute")
	}
	return "", nil
}

// get sends method to url with body (none if "") and returns the status,
// body and Content-Type of the response.
func get(t *testing.T, method, url, body string) (int, string, nethttp.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := nethttp.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Token", "t0k")
	resp, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

// A script serves requests one at a time: it sees the method, path, query,
// headers and body, and its reply (status, body, json, headers) is what
// the client gets.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	servers := http.NewServers()
	defer servers.Close()
	addr, done := serving(t, ctx, servers, `
srv = http.listen("127.0.0.1:0")
assert.eq(type(srv), "http.server")
assert.true(srv.addr.startswith("127.0.0.1:") and not srv.addr.endswith(":0"), srv.addr)
assert.eq(srv.next(timeout=0.01), None)   # nothing asked yet
ready(srv.addr)

req = srv.next()
assert.true(str(req).startswith("http.request("), req)
assert.eq((req.method, req.path, req.url), ("GET", "/metrics", "/metrics?gateway=a&x=1&x=2"))
assert.eq(req.query, {"gateway": "a", "x": "1"})
assert.eq(req.headers["x-token"], "t0k")
assert.eq(req.body, "")
assert.true(req.remote.startswith("127.0.0.1:"), req.remote)
req.reply(body="up 1\n", headers={"Content-Type": "text/plain; version=0.0.4"})
assert.fails(lambda: req.reply(body="again"), "this request was answered already")

req = srv.next()
assert.eq((req.method, req.body), ("POST", '{"status": "firing"}'))
assert.fails(lambda: req.reply(status=1000), "status 1000 is not an HTTP status")
assert.fails(lambda: req.reply(body=1), "body: got int, want string or bytes")
assert.fails(lambda: req.reply(body="x", json={}), "give body or json, not both")
assert.fails(lambda: req.reply(headers={"Content-Length": "3"}), "Content-Length is set from the body")
req.reply(status=202, json={"runs": [1, 2]})

req = srv.next()                              # taken, never answered
assert.eq(req.path, "/forgotten")
req = srv.next()                              # the forgotten one gets 500 now
assert.eq(req.path, "/next")
req.reply(status=204)
srv.next()                                    # ends when the test cancels
`)
	base := "http://" + addr
	status, body, h := get(t, "GET", base+"/metrics?gateway=a&x=1&x=2", "")
	if status != 200 || body != "up 1\n" || h.Get("Content-Type") != "text/plain; version=0.0.4" || h.Get("Content-Length") != "5" {
		t.Errorf("GET /metrics: %d %q %v", status, body, h)
	}
	status, body, h = get(t, "POST", base+"/alerts", `{"status": "firing"}`)
	if status != 202 || body != "{\"runs\":[1,2]}\n" || h.Get("Content-Type") != "application/json" {
		t.Errorf("POST /alerts: %d %q %v", status, body, h)
	}
	// The script takes /forgotten without answering it; taking the next
	// request answers it with 500.
	if status, body, _ := get(t, "GET", base+"/forgotten", ""); status != 500 || body != "the script gave no reply\n" {
		t.Errorf("an unanswered request: %d %q, want 500", status, body)
	}
	if status, _, _ := get(t, "GET", base+"/next", ""); status != 204 {
		t.Errorf("GET /next: %d, want 204", status)
	}
	cancel()
	// next() returns interrupted, or the interpreter notices the
	// cancellation first.
	if err := <-done; err == nil || !errors.Is(err, starctx.ErrInterrupted) && !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("the script's end: %v, want interrupted", err)
	}
}

// What a server refuses or ends: a bad address, a port in use, a body over
// MaxRequest (413, never reaching the script), requests waiting when the
// script closes the server (503), next() after close, and the host's
// Servers.Close of a server the script left open.
func TestServeLimits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	servers := http.NewServers()
	addr, done := serving(t, ctx, servers, fmt.Sprintf(`
assert.fails(lambda: http.listen("9814"), 'http.listen: "9814": want host:port')
assert.fails(lambda: http.listen(%q), "address already in use")
srv = http.listen("127.0.0.1:0")
left_open = http.listen("127.0.0.1:0")
ready(srv.addr + " " + left_open.addr)
req = srv.next()
assert.eq(req.path, "/small")                 # the big one never came
req.reply(body="ok")
req = srv.next()
assert.eq(req.path, "/first")
srv.close()                                   # /first is waiting for its answer
srv.close()                                   # twice is harmless
assert.fails(lambda: srv.next(), "http.server.next: the server at 127.0.0.1:[0-9]+ is closed")
`, busy.Addr().String()))
	addrs := strings.Fields(addr)
	big := strings.Repeat("x", http.MaxRequest+1)
	if status, _, _ := get(t, "POST", "http://"+addrs[0]+"/big", big); status != 413 {
		t.Errorf("a body over MaxRequest: %d, want 413", status)
	}
	if status, body, _ := get(t, "GET", "http://"+addrs[0]+"/small", ""); status != 200 || body != "ok" {
		t.Errorf("after the big one: %d %q", status, body)
	}
	if status, _, _ := get(t, "GET", "http://"+addrs[0]+"/first", ""); status != 503 {
		t.Errorf("a request the closed server did not answer: %d, want 503", status)
	}
	if err := <-done; err != nil {
		t.Fatalf("script: %v", err)
	}
	if _, err := nethttp.Get("http://" + addrs[0] + "/"); err == nil {
		t.Errorf("the closed server still answers")
	}
	// The host closes what the script left open.
	if err := servers.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := nethttp.Get("http://" + addrs[1] + "/"); err == nil {
		t.Errorf("a server still answers after Servers.Close")
	}
}

// Accepting connections is a capability of its own: with net granted but
// not listen, http.listen is refused and binds nothing.
func TestListenNeedsCapability(t *testing.T) {
	thread := &starlark.Thread{Name: "gated"}
	predeclared := starlark.StringDict{"http": http.NewModule(capability.NewGate(nil, capability.Net), http.NewServers())}
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "gated.star", `http.listen("127.0.0.1:0")`, predeclared)
	if !errors.Is(err, capability.ErrDenied) || !strings.Contains(err.Error(), "http.listen accepts connections, which needs the listen capability") {
		t.Errorf("http.listen without the listen capability: %v", err)
	}
}
