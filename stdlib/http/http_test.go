package http_test

import (
	"context"
	"errors"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/http"
)

// run executes src with http (allowed or not), assert and url (the test
// server's address) predeclared, on a thread carrying ctx.
func run(t *testing.T, ctx context.Context, allowed bool, url, src string) error {
	t.Helper()
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: "test"}
	starlarktest.SetReporter(thread, t)
	defer starctx.Attach(thread, ctx)()
	predeclared := starlark.StringDict{
		"http":   http.NewModule(gate(allowed), nil),
		"assert": assert["assert"],
		"url":    starlark.String(url),
	}
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "test.star", src, predeclared)
	return err
}

// request is what the test server saw.
type request struct {
	method, path, contentType, token, body string
}

// recorder is an httptest server on 127.0.0.1 that records requests and
// answers /status/NNN with that status and /big with an oversized body.
func recorder(t *testing.T) (*httptest.Server, func() []request) {
	var mu sync.Mutex
	var seen []request
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("X-Token"), string(b)})
		mu.Unlock()
		switch r.URL.Path {
		case "/status/503":
			nethttp.Error(w, "maintenance", nethttp.StatusServiceUnavailable)
		case "/big":
			w.Write([]byte(strings.Repeat("x", http.MaxResponse+1)))
		default:
			w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), seen...)
	}
}

func TestDisabled(t *testing.T) {
	srv, seen := recorder(t)
	err := run(t, context.Background(), false, srv.URL, `http.post(url, body="x")`)
	if !errors.Is(err, capability.ErrDenied) || err.Error() != "http.post uses the network, which needs the net capability" {
		t.Fatalf("got %v, want capability.ErrDenied", err)
	}
	if n := len(seen()); n != 0 {
		t.Errorf("server got %d requests from a disabled module", n)
	}
}

func TestPost(t *testing.T) {
	srv, seen := recorder(t)
	src := `
assert.eq(dir(http), ["listen", "post"])
r = http.post(url + "/hook", json={"conn": "primary", "up": True, "n": 2})
assert.eq(r.status, 200)
assert.eq(r.body, "ok")
assert.eq(str(r), 'http.response(body = "ok", status = 200)')
http.post(url + "/text", body="CHILD_SA up", headers={"Content-Type": "text/plain", "X-Token": "s3cret"})
http.post(url + "/bytes", body=b"\x00\x01", timeout="2s")
http.post(url + "/empty", timeout=0)
r2 = http.post(url + "/status/503", body="x")
assert.eq(r2.status, 503)
assert.eq(r2.body, "maintenance\n")

assert.fails(lambda: http.post(url, body="a", json="b"), "http.post: give body or json, not both")
assert.fails(lambda: http.post(url, body=1), "http.post: body: got int, want string or bytes")
assert.fails(lambda: http.post(url, json={1: 2}), "http.post: json: .*dict has int key")
assert.fails(lambda: http.post(url, headers={"X": 1}), "http.post: headers: got string: int entry")
assert.fails(lambda: http.post("ftp://example.org/"), 'http.post: "ftp://example.org/" is not an http:// or https:// URL')
assert.fails(lambda: http.post("127.0.0.1:80/x"), "http.post: ")
assert.fails(lambda: http.post(url + "/big"), "http.post: .*/big: response body larger than 4 MiB")
`
	if err := run(t, context.Background(), true, srv.URL, src); err != nil {
		t.Fatal(err)
	}
	want := []request{
		{"POST", "/hook", "application/json", "", `{"conn":"primary","up":true,"n":2}`},
		{"POST", "/text", "text/plain", "s3cret", "CHILD_SA up"},
		{"POST", "/bytes", "application/octet-stream", "", "\x00\x01"},
		{"POST", "/empty", "", "", ""},
		{"POST", "/status/503", "application/octet-stream", "", "x"},
		{"POST", "/big", "", "", ""},
	}
	got := seen()
	if len(got) != len(want) {
		t.Fatalf("server saw %d requests, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// hang returns a server that never answers until the test ends. It sends
// on requested (if not nil) when a request arrives.
func hang(t *testing.T, requested chan<- struct{}) *httptest.Server {
	done := make(chan struct{})
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if requested != nil {
			requested <- struct{}{}
		}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv
}

func TestTimeout(t *testing.T) {
	srv := hang(t, nil)
	err := run(t, context.Background(), true, srv.URL, `http.post(url + "/slow", timeout=0.1)`)
	if err == nil || !strings.Contains(err.Error(), "http.post: "+srv.URL+"/slow: no response within 100ms") {
		t.Fatalf("got %v, want a timeout error", err)
	}
}

func TestCancelled(t *testing.T) {
	requested := make(chan struct{}, 1)
	srv := hang(t, requested)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		<-requested // http.post is waiting for the answer
		cancel(errors.New("SIGTERM"))
	}()
	err := run(t, ctx, true, srv.URL, `http.post(url, timeout=3600)`)
	if !errors.Is(err, starctx.ErrInterrupted) || !strings.Contains(err.Error(), "interrupted: SIGTERM") {
		t.Fatalf("got %v, want an error wrapping ErrInterrupted", err)
	}
}

func TestRefused(t *testing.T) {
	srv := httptest.NewServer(nethttp.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := run(t, context.Background(), true, url, `http.post(url + "/hook")`)
	if err == nil || !strings.Contains(err.Error(), "http.post: "+url+"/hook: dial tcp") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("got %v, want a connection refused error naming the URL", err)
	}
}

// gate grants capability.Net when allowed.
func gate(allowed bool) *capability.Gate {
	if allowed {
		return capability.NewGate(nil, capability.Net)
	}
	return capability.NewGate(nil)
}
