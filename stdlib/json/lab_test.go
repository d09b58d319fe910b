package json_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	gojson "encoding/json"
	"math/big"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/starlarkvici"
	"github.com/vicish/vicish/stdlib/json"
)

// TestEncodeLabReplies encodes what a real daemon with an established SA
// returns for every listing: each reply becomes valid JSON whose objects
// keep the reply's key order, and the certificate of vici.list_certs()
// comes out as base64 DER that openssl reads (the "vicish --json -e
// 'vici.list_certs()' | jq -r '.[0].data' | base64 -d | openssl x509"
// pipeline, here without the command line).
func TestEncodeLabReplies(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mod := starlarkvici.NewModule(starlarkvici.Config{URI: l.Gateway("a").URI})
	defer mod.Close()
	thread := &starlark.Thread{Name: "lab"}
	defer starctx.Attach(thread, ctx)()
	eval := func(expr string, env starlark.StringDict) starlark.Value {
		t.Helper()
		env["vici"] = mod
		v, err := starlark.EvalOptions(&syntax.FileOptions{}, thread, "lab", expr, env)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	eval(`vici.initiate(child="net", ike="ab")`, starlark.StringDict{})
	eval(`vici.load_cert(type="x509", flag="ca", data=der)`, starlark.StringDict{"der": starlark.Bytes(caCert(t))})

	for _, expr := range []string{"vici.version()", "vici.stats()", "vici.list_sas()", "vici.list_conns()",
		"vici.list_policies()", "vici.list_certs()", "vici.list_authorities()", "vici.get_algorithms()",
		"vici.get_pools()", "vici.get_counters()"} {
		v := eval(expr, starlark.StringDict{})
		out, err := json.Encode(ctx, v)
		if err != nil {
			t.Errorf("json.Encode(%s): %v", expr, err)
			continue
		}
		if !gojson.Valid(out) {
			t.Errorf("%s: invalid JSON: %s", expr, out)
		}
		got, want := keyOrder(t, out), dictOrder(v)
		if got != want {
			t.Errorf("%s: JSON keys in order\n%s\nreply's order\n%s", expr, got, want)
		}
		if expr == "vici.stats()" && !strings.HasPrefix(want, " uptime\n  running\n  since\n workers\n") {
			t.Errorf("stats() keys are not in the daemon's order:\n%s", want)
		}
	}

	out, err := json.Encode(ctx, eval("vici.list_certs()", starlark.StringDict{}))
	if err != nil {
		t.Fatal(err)
	}
	var certs []struct{ Type, Data string }
	if err := gojson.Unmarshal(out, &certs); err != nil || len(certs) != 1 {
		t.Fatalf("list_certs JSON %s: %v", out, err)
	}
	der, err := base64.StdEncoding.DecodeString(certs[0].Data)
	if err != nil {
		t.Fatalf(".[0].data is not base64: %v", err)
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed (apt-get install openssl)")
	}
	cmd := exec.Command("openssl", "x509", "-inform", "der", "-noout", "-subject")
	cmd.Stdin = bytes.NewReader(der)
	subject, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl x509 on .[0].data: %v", err)
	}
	if got := strings.TrimSpace(string(subject)); got != "subject=CN = vicish json CA" {
		t.Errorf("openssl reads %q", got)
	}
}

func caCert(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "vicish json CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// keyOrder lists the object keys of a JSON text in the order they appear,
// one per line, indented by depth.
func keyOrder(t *testing.T, data []byte) string {
	t.Helper()
	dec := gojson.NewDecoder(bytes.NewReader(data))
	var b strings.Builder
	var read func(depth int)
	read = func(depth int) {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		switch tok {
		case gojson.Delim('{'):
			for dec.More() {
				key, err := dec.Token()
				if err != nil {
					t.Fatal(err)
				}
				b.WriteString(strings.Repeat(" ", depth+1) + key.(string) + "\n")
				read(depth + 1)
			}
			_, _ = dec.Token() // }
		case gojson.Delim('['):
			for dec.More() {
				read(depth + 1)
			}
			_, _ = dec.Token() // ]
		}
	}
	read(0)
	return b.String()
}

// dictOrder lists the keys of the dicts inside v the way keyOrder does.
func dictOrder(v starlark.Value) string {
	var b strings.Builder
	var walk func(v starlark.Value, depth int)
	walk = func(v starlark.Value, depth int) {
		switch v := v.(type) {
		case *starlark.Dict:
			for _, item := range v.Items() {
				b.WriteString(strings.Repeat(" ", depth+1) + string(item[0].(starlark.String)) + "\n")
				walk(item[1], depth+1)
			}
		case *starlark.List:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		}
	}
	walk(v, 0)
	return b.String()
}
