package http

import (
	"net"
	"sync"
	"time"
)

// limits bound what a server holds for its clients, so that a hostile or
// broken client (many connections, big bodies sent at once, a body sent
// a byte at a time, an answer never read) costs it a bounded amount of
// memory and time. Headers are bounded by net/http (maxHeaderBytes, within
// readHeaderTimeout).
type limits struct {
	conns      int           // connections open at once; one more is answered 503
	heldBodies int64         // bytes of request bodies read and not yet answered; past it 503
	readBody   time.Duration // for a client to send a request's body
	write      time.Duration // for a client to take an answer
}

func defaultLimits() limits {
	return limits{conns: 128, heldBodies: 32 << 20, readBody: 30 * time.Second, write: 30 * time.Second}
}

// budget counts the bytes of request bodies a server holds.
type budget struct {
	mu        sync.Mutex
	used, max int64
}

// take reserves n bytes, or reports that they do not fit.
func (b *budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// give returns n bytes taken.
func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// busy is what a connection past the limit gets before it is closed.
const busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 34\r\n\r\ntoo many connections: retry later\n"

// limitListener accepts at most max connections at once; a connection past
// that is answered 503 and closed at once, so that a client learns why
// instead of waiting in the kernel's backlog.
type limitListener struct {
	net.Listener
	mu   sync.Mutex
	open int
	max  int
}

// Accept implements net.Listener.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		full := l.open >= l.max
		if !full {
			l.open++
		}
		l.mu.Unlock()
		if !full {
			return &countedConn{Conn: c, l: l}, nil
		}
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write([]byte(busy))
		c.Close()
	}
}

// countedConn gives its place back when it is closed.
type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

// Close implements net.Conn.
func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
