package vici_test

// Helpers shared by the tests against real charon daemons (charon_*_test.go).
// The daemons come from internal/lab: with CI=true a lab that cannot start
// fails the test with the reason.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/vici"
)

// charonCtx is a context for one test, cancelled at its end.
func charonCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// dialGateway connects to gateway g and closes the client at the end of t.
func dialGateway(t *testing.T, g *lab.Gateway, opts vici.Options) *vici.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := vici.DialOptions(ctx, g.URI, opts)
	if err != nil {
		t.Fatalf("dial gateway %s: %v", g.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// mustCall runs a command that must succeed and returns its reply.
func mustCall(t *testing.T, ctx context.Context, c *vici.Client, command string, req *vici.Message) *vici.Message {
	t.Helper()
	reply, err := c.Call(ctx, command, req)
	if err != nil {
		t.Fatalf("%s: %v", command, err)
	}
	if reply == nil {
		t.Fatalf("%s: nil reply without error", command)
	}
	return reply
}

// mustSucceed runs a command whose reply carries success and checks it is yes.
func mustSucceed(t *testing.T, ctx context.Context, c *vici.Client, command string, req *vici.Message) *vici.Message {
	t.Helper()
	reply := mustCall(t, ctx, c, command, req)
	if got := reply.Get("success"); got != "yes" {
		t.Fatalf("%s: success=%q errmsg=%q", command, got, reply.Get("errmsg"))
	}
	return reply
}

// mustFail runs a command that must fail with a *CommandError and returns it.
func mustFail(t *testing.T, ctx context.Context, c *vici.Client, command string, req *vici.Message) *vici.CommandError {
	t.Helper()
	reply, err := c.Call(ctx, command, req)
	var ce *vici.CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: want a *vici.CommandError, got reply %v and error %v", command, reply, err)
	}
	if ce.Command != command || ce.Reply == nil || ce.Reply.Get("success") != "no" {
		t.Fatalf("%s: CommandError %+v does not carry the command and the failed reply", command, ce)
	}
	if reply != ce.Reply {
		t.Fatalf("%s: the reply returned with the error is not the error's Reply", command)
	}
	return ce
}

// collect runs a streamed command and returns every event message.
func collect(t *testing.T, ctx context.Context, c *vici.Client, command, event string, req *vici.Message) []*vici.Message {
	t.Helper()
	var out []*vici.Message
	for m, err := range c.Stream(ctx, command, event, req) {
		if err != nil {
			t.Fatalf("%s: %v", command, err)
		}
		out = append(out, m)
	}
	return out
}

// msg builds a request from key/value pairs.
func msg(kv ...string) *vici.Message {
	m := vici.NewMessage()
	for i := 0; i+1 < len(kv); i += 2 {
		m.Set(kv[i], kv[i+1])
	}
	return m
}

// section builds a request {name {body}}.
func section(name string, body *vici.Message) *vici.Message {
	return vici.NewMessage().SetSection(name, body)
}

// pkiRun runs strongSwan's pki tool and returns its standard output. pki
// prints plugin warnings on stderr; those only show up on failure.
func pkiRun(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("pki", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pki %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// credentials made with pki at test time.
type credentials struct {
	keyPEM  []byte // ECDSA P-256 private key, PEM
	keyID   string // pki's SHA-1 of the subjectPublicKey, hex: what load-key reports
	caDER   []byte // self-signed CA certificate of that key, DER
	caDN    string // its subject
	rsaDER  []byte // an RSA private key, DER (PKCS#1)
	rsaID   string
	leafDER []byte // an end-entity certificate issued by the CA, DER
}

// makeCredentials creates keys and certificates with pki in a temporary
// directory.
func makeCredentials(t *testing.T) credentials {
	t.Helper()
	dir := t.TempDir()
	var c credentials
	c.keyPEM = pkiRun(t, "--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem")
	keyPath := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(keyPath, c.keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c.keyID = strings.TrimSpace(string(pkiRun(t, "--keyid", "--in", keyPath, "--id", "spk", "--format", "hex")))
	c.caDN = "C=CH, O=vicish, CN=vicish coverage CA " + filepath.Base(dir)
	c.caDER = pkiRun(t, "--self", "--ca", "--in", keyPath, "--dn", c.caDN, "--lifetime", "2", "--outform", "der")
	caPath := filepath.Join(dir, "ca.der")
	if err := os.WriteFile(caPath, c.caDER, 0o644); err != nil {
		t.Fatal(err)
	}
	c.rsaDER = pkiRun(t, "--gen", "--type", "rsa", "--size", "2048", "--outform", "der")
	rsaPath := filepath.Join(dir, "rsa.der")
	if err := os.WriteFile(rsaPath, c.rsaDER, 0o600); err != nil {
		t.Fatal(err)
	}
	c.rsaID = strings.TrimSpace(string(pkiRun(t, "--keyid", "--in", rsaPath, "--id", "spk", "--format", "hex")))
	pub := pkiRun(t, "--pub", "--in", rsaPath, "--outform", "der")
	pubPath := filepath.Join(dir, "rsa.pub")
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	c.leafDER = pkiRun(t, "--issue", "--in", pubPath, "--type", "pub", "--cacert", caPath, "--cakey", keyPath,
		"--dn", "C=CH, O=vicish, CN=leaf.vicish.test", "--san", "leaf.vicish.test", "--lifetime", "2", "--outform", "der")
	if c.keyID == "" || c.rsaID == "" || len(c.caDER) == 0 || len(c.leafDER) == 0 {
		t.Fatalf("pki produced no output: %+v", c)
	}
	return c
}

// logTails describes the daemons' recent logs, for failure messages.
func logTails(l *lab.Lab) string {
	var b strings.Builder
	for _, g := range l.Gateways {
		fmt.Fprintf(&b, "\n--- log of gateway %s ---\n%s", g.Name, g.LogTail(25))
	}
	return b.String()
}

// nextEvent waits for the next event of s.
func nextEvent(t *testing.T, ctx context.Context, s *vici.Subscription) vici.Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			t.Fatalf("subscription closed: %v", s.Err())
		}
		return ev
	case <-ctx.Done():
		t.Fatalf("no event before %v", ctx.Err())
	}
	return vici.Event{}
}

// waitEvent waits for an event for which match returns true, skipping others.
func waitEvent(t *testing.T, ctx context.Context, s *vici.Subscription, what string, match func(vici.Event) bool) vici.Event {
	t.Helper()
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("waiting for %s: subscription closed: %v", what, s.Err())
			}
			if match(ev) {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// onlySection returns the name and body of the single section of m.
func onlySection(t *testing.T, m *vici.Message) (string, *vici.Message) {
	t.Helper()
	var name string
	var body *vici.Message
	for _, e := range m.Entries() {
		if e.Kind == vici.KindSection {
			if body != nil {
				t.Fatalf("more than one section in %v", m.Keys())
			}
			name, body = e.Name, e.Section
		}
	}
	if body == nil {
		t.Fatalf("no section in message with keys %v", m.Keys())
	}
	return name, body
}
