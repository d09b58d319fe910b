package http_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/stdlib/http"
)

// A hostile or broken client costs a server bounded memory and time. The
// tests use small limits; the defaults are the same mechanism.

// post sends body to url and returns the status, or 0 and the error when
// the connection failed.
func post(url, body string) (int, error) {
	resp, err := nethttp.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// The request bodies a server holds for the script (read, not yet
// answered) fit a byte budget: past it a request is answered 503 at once
// instead of being read, so a flood of big POSTs cannot grow the process.
func TestServeHeldBodiesBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	servers := http.NewServersLimited(100, 1000, time.Minute, time.Minute)
	defer servers.Close()
	addrs, done := serving(t, ctx, servers, `
srv = http.listen("127.0.0.1:0")
gate = http.listen("127.0.0.1:0")
ready(srv.addr + " " + gate.addr)
gate.next().reply(body="go")                  # the test has had its answers past the budget
for _ in range(3):                            # three bodies of 300 bytes fit 1000
    req = srv.next()
    assert.eq((req.path, len(req.body)), ("/alert", 300))
    req.reply(body="ok")
`)
	addr, gate, _ := strings.Cut(addrs, " ")
	statuses := make(chan int, 5)
	for range 5 {
		go func() {
			s, err := post("http://"+addr+"/alert", strings.Repeat("x", 300))
			if err != nil {
				t.Errorf("POST: %v", err)
			}
			statuses <- s
		}()
	}
	for range 2 {
		select {
		case s := <-statuses:
			if s != nethttp.StatusServiceUnavailable {
				t.Errorf("a POST past the budget: %d, want 503", s)
			}
		case <-time.After(time.Minute):
			t.Fatal("every POST is held: the bodies have no budget")
		}
	}
	if s, body, _ := get(t, "GET", "http://"+gate+"/", ""); s != 200 || body != "go" {
		t.Errorf("GET gate: %d %q", s, body)
	}
	for range 3 {
		if s := <-statuses; s != 200 {
			t.Errorf("a held POST: %d, want 200", s)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A server holds a bounded number of connections: one more is answered
// 503 (or cut) at once, and a connection that closes makes room.
func TestServeConnectionsBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	servers := http.NewServersLimited(4, 1<<20, time.Minute, time.Minute)
	defer servers.Close()
	addr, _ := serving(t, ctx, servers, `
srv = http.listen("127.0.0.1:0")
ready(srv.addr)
while True:
    srv.next().reply(body="ok")
`)
	var idle []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	// The server counts a connection once it accepted it; until it has
	// accepted the four, a fifth may still get in.
	client := &nethttp.Client{Transport: &nethttp.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/x")
		if err != nil {
			break // cut: also a refusal
		}
		resp.Body.Close()
		if resp.StatusCode == nethttp.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with 4 connections open a fifth is still served (%d): the connections have no limit", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	idle[0].Close()
	for {
		resp, err := client.Get("http://" + addr + "/x")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed connection made no room: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client that sends its body slowly, or does not read the answer, is cut
// when its time is up: it holds neither a connection nor memory for good.
func TestServeSlowClientsCut(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	servers := http.NewServersLimited(1, 1<<20, 200*time.Millisecond, 200*time.Millisecond)
	defer servers.Close()
	addr, _ := serving(t, ctx, servers, `
srv = http.listen("127.0.0.1:0")
ready(srv.addr)
while True:
    req = srv.next()
    req.reply(body="x" * (64 << 20) if req.path == "/big" else "ok")
`)
	// A body that never comes.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("a body that never comes holds its connection: no read timeout")
		}
	}
	c.Close()
	// An answer nobody reads.
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	// Its connection is the only one the server allows: another client
	// gets in once writing the answer was given up.
	client := &nethttp.Client{Transport: &nethttp.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get("http://" + addr + "/x")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("a client that reads no answer holds its connection: no write timeout")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
