package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	nethttp "net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/json"
)

// A script serves HTTP one request at a time, on its own thread:
//
//	srv = http.listen("127.0.0.1:9814")
//	while True:
//	    req = srv.next()                  # blocks; None after next(timeout=...)
//	    if req.path == "/metrics":
//	        req.reply(body=text, headers={"Content-Type": "text/plain; version=0.0.4"})
//	    else:
//	        req.reply(status=404, body="not found\n")
//
// net/http accepts connections and reads requests on its goroutines; each
// request waits in its handler until the script takes it with next() and
// answers it with reply(). A client that gives up meanwhile is dropped
// from the queue, so the script never works for nobody; a request the
// script takes but does not answer gets 500 when it takes the next one.
// No Starlark value is shared with a handler: a request is plain data,
// and reply hands the handler bytes.

// MaxRequest is the largest request body a server reads; a larger one is
// answered 413 without reaching the script.
const MaxRequest = 4 << 20

// Limits of a server's connections: a client must send its headers within
// readHeaderTimeout, and a kept-alive connection idle for idleTimeout is
// closed.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// Servers tracks the servers a module's scripts opened, so that the host
// can close those still open when it is done (Close).
type Servers struct {
	mu     sync.Mutex
	open   map[*Server]bool
	limits limits
}

// NewServers returns an empty set of servers.
func NewServers() *Servers { return &Servers{open: map[*Server]bool{}, limits: defaultLimits()} }

// Close closes every server still open.
func (ss *Servers) Close() error {
	ss.mu.Lock()
	open := make([]*Server, 0, len(ss.open))
	for s := range ss.open {
		open = append(open, s)
	}
	ss.mu.Unlock()
	var first error
	for _, s := range open {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Listen implements http.listen(addr): it binds addr ("host:port"; port 0
// picks a free one) at once, so that a port in use is the script's error,
// and serves it.
func (ss *Servers) Listen(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var addr string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "addr", &addr); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("%s: %q: want host:port, e.g. \"127.0.0.1:9814\" or \":9814\" for every address", b.Name(), addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	lim := defaultLimits()
	if ss != nil {
		lim = ss.limits
	}
	ln = &limitListener{Listener: ln, max: lim.conns}
	s := &Server{ln: ln, requests: make(chan *pending), closed: make(chan struct{}), owner: ss, limits: lim, held: budget{max: lim.heldBodies}}
	s.srv = &nethttp.Server{
		Handler:           nethttp.HandlerFunc(s.handle),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0), // a client's fault is not the script's output
	}
	s.members = starlark.StringDict{
		"next":  starlark.NewBuiltin("http.server.next", s.next).BindReceiver(s),
		"close": starlark.NewBuiltin("http.server.close", s.closeBuiltin).BindReceiver(s),
	}
	if ss != nil {
		ss.mu.Lock()
		ss.open[s] = true
		ss.mu.Unlock()
	}
	go s.srv.Serve(ln)
	return s, nil
}

// Server is an http.server: a listening socket whose requests the script
// takes one at a time.
type Server struct {
	ln       net.Listener
	srv      *nethttp.Server
	requests chan *pending // unbuffered: a handler offers, next takes
	closed   chan struct{}
	once     sync.Once
	owner    *Servers
	members  starlark.StringDict
	limits   limits
	held     budget // the bodies of the requests read and not yet answered

	// Used by the script's thread only.
	unanswered *pending // taken by the last next(), maybe not answered
}

var _ starlark.HasAttrs = (*Server)(nil)

// pending is a request waiting in its handler for the script.
type pending struct {
	ctx                       context.Context // the request's: done when the client gave up
	method, url, path, remote string
	query, header             [][2]string
	body                      []byte
	answer                    chan answer // buffered, 1
	once                      sync.Once
}

// answer is the response the script gave.
type answer struct {
	status int
	header [][2]string
	body   []byte
}

// respond hands the handler its response, once; later calls do nothing.
func (p *pending) respond(a answer) bool {
	sent := false
	p.once.Do(func() {
		p.answer <- a
		sent = true
	})
	return sent
}

// handle is the handler of every request: it reads the request, offers it
// to the script and writes the answer the script gives.
func (s *Server) handle(w nethttp.ResponseWriter, r *nethttp.Request) {
	tooBig := func() {
		nethttp.Error(w, fmt.Sprintf("request body larger than %d MiB", MaxRequest>>20), nethttp.StatusRequestEntityTooLarge)
	}
	if r.ContentLength > MaxRequest {
		tooBig()
		return
	}
	// The body's bytes are held until the script answers: reserve them
	// first (a body of unknown length as much as it may be).
	held := r.ContentLength
	if held < 0 {
		held = MaxRequest
	}
	if !s.held.take(held) {
		w.Header().Set("Retry-After", "1")
		nethttp.Error(w, "too many requests wait for the script: retry later", nethttp.StatusServiceUnavailable)
		return
	}
	defer func() { s.held.give(held) }()
	rc := nethttp.NewResponseController(w)
	if r.ContentLength != 0 {
		// Only while the body comes: a deadline left on the connection
		// would end the request when the script takes longer.
		rc.SetReadDeadline(time.Now().Add(s.limits.readBody))
	}
	body, err := io.ReadAll(nethttp.MaxBytesReader(w, r.Body, MaxRequest))
	if err != nil {
		var maxBytes *nethttp.MaxBytesError
		if errors.As(err, &maxBytes) {
			tooBig()
		}
		return
	}
	if r.ContentLength != 0 {
		rc.SetReadDeadline(time.Time{})
	}
	s.held.give(held - int64(len(body)))
	held = int64(len(body))
	p := &pending{
		ctx:    r.Context(),
		method: r.Method, url: r.URL.RequestURI(), path: r.URL.Path, remote: r.RemoteAddr,
		body: body, answer: make(chan answer, 1),
	}
	for k, vs := range r.URL.Query() {
		p.query = append(p.query, [2]string{k, vs[0]})
	}
	for k, vs := range r.Header {
		p.header = append(p.header, [2]string{strings.ToLower(k), strings.Join(vs, ", ")})
	}
	sort.Slice(p.query, func(i, j int) bool { return p.query[i][0] < p.query[j][0] })
	sort.Slice(p.header, func(i, j int) bool { return p.header[i][0] < p.header[j][0] })
	select {
	case s.requests <- p:
	case <-r.Context().Done():
		return // the client gave up before the script took the request
	case <-s.closed:
		nethttp.Error(w, "the server is closing", nethttp.StatusServiceUnavailable)
		return
	}
	var a answer
	select {
	case a = <-p.answer:
	case <-r.Context().Done():
		return
	case <-s.closed:
		nethttp.Error(w, "the server is closing", nethttp.StatusServiceUnavailable)
		return
	}
	rc.SetWriteDeadline(time.Now().Add(s.limits.write))
	for _, h := range a.header {
		w.Header().Set(h[0], h[1])
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(a.body)))
	w.WriteHeader(a.status)
	w.Write(a.body)
}

// String implements starlark.Value.
func (s *Server) String() string { return fmt.Sprintf("<http.server %s>", s.ln.Addr()) }

// Type implements starlark.Value.
func (s *Server) Type() string { return "http.server" }

// Freeze implements starlark.Value; a server is a handle and stays usable.
func (s *Server) Freeze() {}

// Truth implements starlark.Value.
func (s *Server) Truth() starlark.Bool { return true }

// Hash implements starlark.Value.
func (s *Server) Hash() (uint32, error) { return 0, errors.New("unhashable: http.server") }

// Attr implements starlark.HasAttrs.
func (s *Server) Attr(name string) (starlark.Value, error) {
	if name == "addr" {
		return starlark.String(s.ln.Addr().String()), nil
	}
	return s.members[name], nil
}

// AttrNames implements starlark.HasAttrs.
func (s *Server) AttrNames() []string { return []string{"addr", "close", "next"} }

// Close stops listening, answers the requests still waiting with 503 and
// closes the server's connections. Closing twice is harmless.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		// Handlers see closed and answer what waits 503 at once; Shutdown
		// lets them write that before it closes the connections (Close
		// alone would cut them, and a client retries a cut GET on a new
		// connection, which the closed listener refuses). A handler
		// stuck writing to a slow client is cut after a second.
		close(s.closed)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err = s.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			err = s.srv.Close()
		}
		if s.owner != nil {
			s.owner.mu.Lock()
			delete(s.owner.open, s)
			s.owner.mu.Unlock()
		}
	})
	return err
}

func (s *Server) closeBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

// next implements srv.next(timeout=None): the next request, or None when
// timeout seconds pass first.
func (s *Server) next(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var timeout starctx.Duration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout??", &timeout); err != nil {
		return nil, err
	}
	if p := s.unanswered; p != nil {
		s.unanswered = nil
		p.respond(answer{status: nethttp.StatusInternalServerError, body: []byte("the script gave no reply\n"),
			header: [][2]string{{"Content-Type", "text/plain; charset=utf-8"}}})
	}
	ctx := starctx.From(thread)
	var expired <-chan time.Time
	if timeout.Set {
		t := time.NewTimer(timeout.D)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-s.closed:
		return nil, fmt.Errorf("%s: the server at %s is closed", b.Name(), s.ln.Addr())
	default:
	}
	for {
		select {
		case p := <-s.requests:
			if p.ctx.Err() != nil {
				continue // its client gave up while the handler offered it
			}
			s.unanswered = p
			return p.value(), nil
		case <-expired:
			return starlark.None, nil
		case <-s.closed:
			return nil, fmt.Errorf("%s: the server at %s is closed", b.Name(), s.ln.Addr())
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", b.Name(), starctx.Interrupted(ctx))
		}
	}
}

// value is the request as the script sees it: http.request(method, url,
// path, query, headers, body, remote) with a reply method.
func (p *pending) value() starlark.Value {
	dict := func(kvs [][2]string) *starlark.Dict {
		d := starlark.NewDict(len(kvs))
		for _, kv := range kvs {
			_ = d.SetKey(starlark.String(kv[0]), starlark.String(kv[1]))
		}
		return d
	}
	return starlarkstruct.FromStringDict(starlark.String("http.request"), starlark.StringDict{
		"method":  starlark.String(p.method),
		"url":     starlark.String(p.url),
		"path":    starlark.String(p.path),
		"query":   dict(p.query),
		"headers": dict(p.header),
		"body":    starlark.String(p.body),
		"remote":  starlark.String(p.remote),
		"reply":   starlark.NewBuiltin("http.request.reply", p.reply),
	})
}

// reply implements req.reply(status=200, body=None, json=None,
// headers=None).
func (p *pending) reply(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		status  = 200
		bodyV   starlark.Value
		jsonV   starlark.Value
		headers *starlark.Dict
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "status?", &status, "body??", &bodyV, "json??", &jsonV, "headers??", &headers); err != nil {
		return nil, err
	}
	if status < 100 || status > 599 {
		return nil, fmt.Errorf("%s: status %d is not an HTTP status (100-599)", b.Name(), status)
	}
	a := answer{status: status}
	switch {
	case bodyV != nil && jsonV != nil:
		return nil, fmt.Errorf("%s: give body or json, not both", b.Name())
	case jsonV != nil:
		enc, err := json.Encode(starctx.From(thread), jsonV)
		if err != nil {
			return nil, fmt.Errorf("%s: json: %w", b.Name(), err)
		}
		a.body = append(enc, '\n')
		a.header = append(a.header, [2]string{"Content-Type", "application/json"})
	case bodyV != nil:
		switch v := bodyV.(type) {
		case starlark.String:
			a.body = []byte(v)
			a.header = append(a.header, [2]string{"Content-Type", "text/plain; charset=utf-8"})
		case starlark.Bytes:
			a.body = []byte(v)
			a.header = append(a.header, [2]string{"Content-Type", "application/octet-stream"})
		default:
			return nil, fmt.Errorf("%s: body: got %s, want string or bytes (use json= for other values)", b.Name(), bodyV.Type())
		}
	}
	if headers != nil {
		for _, kv := range headers.Items() {
			k, ok1 := kv[0].(starlark.String)
			v, ok2 := kv[1].(starlark.String)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: headers: got %s: %s entry, want string: string", b.Name(), kv[0].Type(), kv[1].Type())
			}
			if strings.EqualFold(string(k), "Content-Length") {
				return nil, fmt.Errorf("%s: headers: Content-Length is set from the body", b.Name())
			}
			a.header = append(a.header, [2]string{string(k), string(v)})
		}
	}
	if !p.respond(a) {
		return nil, fmt.Errorf("%s: this request was answered already", b.Name())
	}
	return starlark.None, nil
}
