package swanctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// runStar runs src with the swanctl module and a print function writing
// to out; it returns the globals.
func runStar(t *testing.T, mod starlark.Value, out *bytes.Buffer, src string, extra starlark.StringDict) (starlark.StringDict, error) {
	t.Helper()
	thread := &starlark.Thread{Name: "test", Print: func(_ *starlark.Thread, msg string) { out.WriteString(msg + "\n") }}
	pre := starlark.StringDict{"swanctl": mod}
	for k, v := range extra {
		pre[k] = v
	}
	return starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "test.star", src, pre)
}

func TestLoadConfStarlark(t *testing.T) {
	dir := copyTestdata(t)
	goCerts(t, dir)
	var out bytes.Buffer
	mod := NewModule(Config{Stdout: &out})
	g, err := runStar(t, mod, &out, `
conf = swanctl.load_conf(dir + "/swanctl.conf")
print(conf)
s = conf["secrets"]["ike-gw"]
secret_type = type(s["data"])
revealed = s["data"].reveal()
owners = s["owners"]
gw = conf["connections"]["gw"]["gw"]
remote_addrs = gw["remote_addrs"]
version = gw["version"]
cert_type = type(conf["connections"]["rw"]["rw"]["local"]["certs"][0])
pool = conf["pools"]["p1"]
key_type = type(conf["keys"]["private/gw.pem"]["data"])
same = conf["secrets"]["ike-gw"]["data"] == swanctl.load_conf(dir)["secrets"]["ike-gw"]["data"]
`, starlark.StringDict{"dir": starlark.String(dir)})
	if err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	for _, secret := range []string{"a psk with blanks", "carol-password", "extra-secret", "PRIVATE KEY"} {
		if strings.Contains(printed, secret) {
			t.Errorf("printing the conf leaks %q", secret)
		}
	}
	if !strings.Contains(printed, "<secret>") {
		t.Errorf("printed conf shows no <secret>: %.300s", printed)
	}
	check := map[string]string{
		"secret_type":  `"swanctl.secret"`,
		"revealed":     `b"a psk with blanks # and a hash"`,
		"owners":       `["gw-a", "gw-b"]`,
		"remote_addrs": `["192.0.2.2", "192.0.2.3"]`,
		"version":      `"2"`,
		"cert_type":    `"bytes"`,
		"pool":         `{"p1": {"addrs": "10.3.0.0/28", "dns": ["10.3.0.53", "10.3.0.54"]}}`,
		"key_type":     `"swanctl.secret"`,
		"same":         `True`,
	}
	for name, want := range check {
		if got := g[name].String(); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

func TestLoadConfErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/swanctl.conf", "connections { c { local { certs = nope.pem } } }\nsecrets { ike-x { id = y } }\n")
	writeFile(t, dir+"/bad.conf", "connections {\n")
	var out bytes.Buffer
	mod := NewModule(Config{Stdout: &out})
	for src, want := range map[string][]string{
		`swanctl.load_conf(dir)`:               {"swanctl.load_conf", "conn c", "nope.pem", "secret ike-x: secrets.ike-x has no secret"},
		`swanctl.load_conf(dir + "/bad.conf")`: {"swanctl.load_conf", "bad.conf:2", "not closed"},
		`swanctl.load_conf(dir + "/none")`:     {"swanctl.load_conf", "no such file"},
		`swanctl.apply(dir + "/bad.conf")`:     {"swanctl.apply", "bad.conf:2"},
	} {
		_, err := runStar(t, mod, &out, src, starlark.StringDict{"dir": starlark.String(dir)})
		if err == nil {
			t.Errorf("%s: no error", src)
			continue
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", src, err, w)
			}
		}
	}
}

func TestApplyClientError(t *testing.T) {
	dir := copyTestdata(t)
	goCerts(t, dir)
	var out bytes.Buffer
	mod := NewModule(Config{Client: func(context.Context) (*vici.Client, error) {
		return nil, errors.New("dial unix /nonexistent: is charon running?")
	}, Stdout: &out})
	_, err := runStar(t, mod, &out, `swanctl.apply(dir, dry_run=True)`, starlark.StringDict{"dir": starlark.String(dir)})
	if err == nil || !strings.Contains(err.Error(), "swanctl.apply: dial unix /nonexistent: is charon running?") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadConfDefaultPath(t *testing.T) {
	dir := copyTestdata(t)
	goCerts(t, dir)
	t.Setenv("SWANCTL_DIR", dir)
	var out bytes.Buffer
	g, err := runStar(t, NewModule(Config{Stdout: &out}), &out, `conf = swanctl.load_conf()`, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := g["conf"].(*starlark.Dict)
	if p, _, _ := d.Get(starlark.String("path")); p != starlark.String(dir+"/swanctl.conf") {
		t.Fatalf("path = %v, want $SWANCTL_DIR/swanctl.conf", p)
	}
}

// TestLoadConfNotRegular: devices, fifos and directories are refused at
// once with a clear error (reading /dev/zero ran out of memory, a fifo
// blocked and ignored SIGTERM), in the path given and in the files the
// configuration names.
func TestLoadConfNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := dir + "/fifo.conf"
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir+"/cacert.conf", "authorities { ca { cacert = /dev/zero } }\n")
	writeFile(t, dir+"/certs.conf", "connections { c { local { certs = /dev/urandom } } }\n")
	writeFile(t, dir+"/include.conf", "include /dev/zero\nconnections { c { remote_addrs = 192.0.2.9 } }\n")
	var out bytes.Buffer
	mod := NewModule(Config{Stdout: &out})
	for src, want := range map[string]string{
		`swanctl.load_conf("/dev/zero")`:               "swanctl.load_conf: read /dev/zero: not a regular file: it is a character device",
		`swanctl.load_conf("/dev/urandom")`:            "swanctl.load_conf: read /dev/urandom: not a regular file: it is a character device",
		`swanctl.load_conf(dir + "/fifo.conf")`:        "swanctl.load_conf: read " + fifo + ": not a regular file: it is a named pipe (fifo)",
		`swanctl.apply(dir + "/fifo.conf")`:            "swanctl.apply: read " + fifo + ": not a regular file: it is a named pipe (fifo)",
		`swanctl.load_conf("")`:                        "swanctl.load_conf: no path given: name a swanctl.conf or the swanctl directory holding it",
		`swanctl.load_conf(dir + "/cacert.conf")`:      "authority ca: loading ca certificate: read /dev/zero: not a regular file: it is a character device",
		`swanctl.load_conf(dir + "/certs.conf")`:       `conn c: connections.c.local.certs: loading certs certificate "/dev/urandom" failed: read /dev/urandom: not a regular file`,
		`swanctl.load_conf(dir + "/include.conf")[""]`: `key "" not in dict`, // the include was skipped, as strongSwan skips unreadable matches
	} {
		_, err := runStar(t, mod, &out, src, starlark.StringDict{"dir": starlark.String(dir)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", src, err, want)
		}
	}
}

// TestLoadConfLarge: a swanctl.conf of 100,000 connections (12.6 MB) is
// within the size limit and loads completely.
func TestLoadConfLarge(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("connections {\n")
	for i := range 100000 {
		fmt.Fprintf(&b, "  conn%06d {\n    remote_addrs = 192.0.2.%d\n    local { auth = psk }\n    remote { auth = psk }\n    children { net { local_ts = 10.1.0.0/24 } }\n  }\n", i, i%250+1)
	}
	b.WriteString("}\n")
	if b.Len() < 12_600_000 {
		t.Fatalf("the test config is only %d bytes", b.Len())
	}
	writeFile(t, dir+"/swanctl.conf", b.String())
	conf, err := loadConf(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	conns := conf.ByKind(KindConn)
	if len(conns) != 100000 || conns[99999].Name != "conn099999" {
		t.Fatalf("loaded %d connections", len(conns))
	}
}

// TestLoadCancelled: loading a large configuration stops when the context
// ends, with its cause.
func TestLoadCancelled(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("connections {\n")
	for i := range 5000 {
		fmt.Fprintf(&b, "  c%d {\n    remote_addrs = 192.0.2.1\n  }\n", i)
	}
	b.WriteString("}\n")
	writeFile(t, dir+"/swanctl.conf", b.String())
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted (Ctrl-C)")
	cancel(cause)
	if _, err := loadConf(ctx, dir); !errors.Is(err, cause) || !strings.Contains(err.Error(), "reading stopped") {
		t.Fatalf("got %v, want loading stopped by %v", err, cause)
	}
	if _, err := loadConf(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
}

// TestCredentialLimit: a credential file over MaxCredentialSize is an
// error for that item, not a read of the whole file.
func TestCredentialLimit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/swanctl.conf", "")
	writeFile(t, dir+"/x509/huge.pem", strings.Repeat("x", MaxCredentialSize+1))
	conf, err := loadConf(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	certs := conf.ByKind(KindCert)
	if len(certs) != 1 || certs[0].Err == nil || !strings.Contains(certs[0].Err.Error(), "x509/huge.pem: file too large: over the limit of 1 MiB") {
		t.Fatalf("certs: %+v", certs)
	}
}
