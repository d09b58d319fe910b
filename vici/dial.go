package vici

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// DefaultURI is the socket charon's vici plugin listens on when
// strongswan.conf does not say otherwise.
const DefaultURI = "unix:///var/run/charon.vici"

// ParseURI splits a VICI socket URI into the network and address net.Dial
// takes: "unix:///path/to/charon.vici", "tcp://host:port", or a bare path
// (anything without "://"). An empty uri means DefaultURI.
// "ssh://[user@]host[:port][/path/to/charon.vici]" (the daemon's unix
// socket on another machine, reached through the OpenSSH client) gives
// network "ssh" and the URI's part after "ssh://" as address; no path
// means /var/run/charon.vici.
func ParseURI(uri string) (network, address string, err error) {
	if uri == "" {
		uri = DefaultURI
	}
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return "unix", uri, nil
	}
	switch scheme {
	case "unix":
		if rest == "" {
			return "", "", fmt.Errorf("vici: %q: unix URI without a socket path (want unix:///path/to/charon.vici)", uri)
		}
		return "unix", rest, nil
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil || port == "" {
			return "", "", fmt.Errorf("vici: %q: tcp URI needs host:port, e.g. tcp://127.0.0.1:4502", uri)
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case "ssh":
		if _, err := parseSSH(uri); err != nil {
			return "", "", err
		}
		return "ssh", rest, nil
	}
	return "", "", fmt.Errorf("vici: %q: unsupported scheme %q (use unix:///path, tcp://host:port, ssh://host/path or a bare socket path)", uri, scheme)
}

// DialError is a failure to connect to the daemon's socket. Its message
// says what to check: a missing socket, permissions (with the socket's
// owner and mode), a refused connection, or a context that ended.
type DialError struct {
	URI string // the URI dialled
	Err error  // the underlying error

	hint string // filled in by Dial from what it could see
}

// Error describes the failure and, when it can, what to check.
// A hint already names the cause in words, so it replaces the system's
// wording (which Unwrap still gives).
func (e *DialError) Error() string {
	hint := e.hint
	if hint == "" {
		hint = dialHint(e.URI, e.Err)
	}
	if hint != "" {
		return fmt.Sprintf("vici: cannot connect to %s: %s", e.URI, hint)
	}
	return fmt.Sprintf("vici: cannot connect to %s: %v", e.URI, e.Err)
}

// Unwrap returns the underlying error, so errors.Is(err, fs.ErrNotExist),
// errors.Is(err, context.DeadlineExceeded) and the like work.
func (e *DialError) Unwrap() error { return e.Err }

// DialTransport connects to the socket uri names with the transport its
// scheme names (unix, tcp, ssh), as a Client does without Options.Dial;
// only ctx bounds the attempt. A Dial hook that wraps the connections it
// makes (vicish --record) calls it.
func DialTransport(ctx context.Context, uri string, opts Options) (net.Conn, error) {
	if _, _, err := ParseURI(uri); err != nil {
		return nil, err
	}
	opts.Dial = nil
	return dialConn(ctx, uri, opts)
}

// dialConn connects to the socket uri names. Only ctx bounds the attempt.
func dialConn(ctx context.Context, uri string, opts Options) (net.Conn, error) {
	network, addr, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if opts.Dial != nil {
		nc, err := opts.Dial(ctx, uri)
		if err != nil {
			var derr *DialError
			if !errors.As(err, &derr) {
				err = &DialError{URI: uri, Err: err}
			}
			return nil, err
		}
		return nc, nil
	}
	if network == "ssh" {
		return dialSSH(ctx, uri, opts)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %v", ctxErr, err)
		}
		return nil, &DialError{URI: uri, Err: err, hint: dialHint(uri, err)}
	}
	return nc, nil
}

// dialHint says in words what a person can do about err.
func dialHint(uri string, err error) string {
	network, addr, perr := ParseURI(uri)
	if perr != nil || network == "ssh" {
		return "" // dialSSH writes its own hints
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out before the daemon accepted the connection; is charon overloaded or is the address wrong?"
	case errors.Is(err, context.Canceled):
		return "cancelled before the connection was made"
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("socket %s does not exist: is charon running? is the vici plugin loaded? is the socket configured elsewhere (charon.plugins.vici.socket in strongswan.conf)?", addr)
	case errors.Is(err, fs.ErrPermission):
		return permissionHint(addr)
	case errors.Is(err, syscall.ECONNREFUSED):
		if network == "unix" {
			if fi, err := os.Stat(addr); err == nil && fi.Mode().Type() != fs.ModeSocket {
				return fmt.Sprintf("%s is a %s, not a socket: give the path of charon's vici socket (charon.plugins.vici.socket in strongswan.conf)", addr, fileKind(fi.Mode()))
			}
			return fmt.Sprintf("socket %s exists but nothing listens on it: charon has probably exited and left it behind; start charon", addr)
		}
		return fmt.Sprintf("nothing listens on %s: is charon running with the vici plugin listening there (charon.plugins.vici.socket = tcp://%s)?", addr, addr)
	}
	return ""
}

// fileKind names the kind of file mode m is, for a dial hint.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	}
	return "file of mode " + m.Type().String()
}

// permissionHint names the socket's owner, group and mode and says what
// the caller can do about it.
func permissionHint(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Sprintf("permission denied on %s: run as root or as a user who may open it", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("permission denied on %s (mode %v): run as root or as a user who may open it", path, fi.Mode())
	}
	owner := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username + " (uid " + owner + ")"
	} else {
		owner = "uid " + owner
	}
	gid := strconv.FormatUint(uint64(st.Gid), 10)
	group := "gid " + gid
	if g, err := user.LookupGroupId(gid); err == nil {
		group = g.Name + " (gid " + gid + ")"
	}
	hint := fmt.Sprintf("permission denied: %s is owned by %s, group %s, mode %v; your uid is %d: run as root (sudo)",
		path, owner, group, fi.Mode(), os.Getuid())
	if fi.Mode().Perm()&0o060 == 0o060 {
		name := group
		if g, err := user.LookupGroupId(gid); err == nil {
			name = g.Name
		}
		hint += fmt.Sprintf(" or join group %s (e.g. usermod -aG %s $USER, then log in again)", name, name)
	} else {
		hint += " or have the socket's group and mode changed (charon.plugins.vici.socket, or charon's group setting in strongswan.conf)"
	}
	return hint
}

// newReader wraps a connection in the buffered reader the client uses.
func newReader(nc net.Conn) *bufio.Reader { return bufio.NewReaderSize(nc, 64*1024) }
