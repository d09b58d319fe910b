package redact_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/redact"
	vjson "github.com/vicish/vicish/stdlib/json"
	"github.com/vicish/vicish/stdlib/swanctl"
)

// swanctl's secret values are learnt through the Secret interface.
var _ redact.Secret = (*swanctl.Secret)(nil)

func TestSecretsScanSource(t *testing.T) {
	for _, tc := range []struct {
		src    string
		secret string // "" means none
	}{
		{`vici.load_shared(type = "IKE", data = "hunter2-psk", owners = ["a"])`, "hunter2-psk"},
		{`vici.load_shared({"type": "EAP", "data": "eap-pass-1"})`, "eap-pass-1"},
		{`conf = {"psk": "lab-psk-42"}`, "lab-psk-42"},
		{`vici.load_key(type = "rsa", data = "-----BEGIN KEY-----")`, "-----BEGIN KEY-----"},
		{`vici.load_cert(type = "X509", data = "public-cert-data")`, ""},
		{`print("hello there")`, ""},
	} {
		f, err := (&syntax.FileOptions{}).Parse("s.star", tc.src, 0)
		if err != nil {
			t.Fatal(err)
		}
		s := redact.New()
		found := s.ScanSource(f)
		if found != (tc.secret != "") {
			t.Errorf("%s: found = %v", tc.src, found)
		}
		if tc.secret != "" {
			if got := s.Redact("x " + tc.secret + " y"); got != "x <redacted> y" {
				t.Errorf("%s: Redact = %q", tc.src, got)
			}
		}
	}
}

// TestSecretsConcurrent: secrets are learnt on one thread while another
// writes (a listen callback's error, a log line); run with -race.
func TestSecretsConcurrent(t *testing.T) {
	s := redact.New()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			s.Add(fmt.Sprintf("secret-%04d", i))
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			if got := s.Redact("x secret-0499 y"); got != "x <redacted> y" {
				t.Fatalf("Redact = %q", got)
			}
			return
		default:
			_ = s.Redact(fmt.Sprintf("line %d secret-%04d", i, i%500))
		}
	}
}

// TestKeys: the "data next to type" rule and the secret names, as the
// Printer, Learn and LearnArgs apply them.
func TestKeys(t *testing.T) {
	for _, tc := range []struct {
		dict   string
		secret []string // the keys whose value is secret
	}{
		{`{"type": "IKE", "data": "x", "owners": []}`, []string{"data"}},
		{`{"type": "X509", "data": "x"}`, nil},
		{`{"type": "pubkey", "data": "x"}`, nil},
		{`{"type": None, "data": "x"}`, []string{"data"}},
		{`{"data": "x"}`, nil},
		{`{"PSK": 1, "Password": 2, "pin": 3, "private_key": 4, "privkey": 5, "passphrase": 6, "secret": 7, "secrets": 8, "user": 9}`,
			[]string{"PSK", "Password", "pin", "private_key", "privkey", "passphrase", "secret", "secrets"}},
	} {
		v, err := starlark.EvalOptions(&syntax.FileOptions{}, &starlark.Thread{}, "d", tc.dict, nil)
		if err != nil {
			t.Fatal(err)
		}
		items := v.(*starlark.Dict).Items()
		keys := redact.KeysOf(items)
		var got []string
		for _, kv := range items {
			if keys.Secret(kv[0]) {
				got = append(got, string(kv[0].(starlark.String)))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.secret) {
			t.Errorf("%s: secret keys %v, want %v", tc.dict, got, tc.secret)
		}
	}
}

// secretValue is a value that holds secret bytes, as swanctl.secret does.
type secretValue struct{ starlark.NoneType }

func (secretValue) SecretBytes() []byte { return []byte("held-xyz") }

// TestLearn: Learn finds the secret keys of nested dicts and structs and
// the bytes of a Secret; LearnArgs also a key-loading command's data.
func TestLearn(t *testing.T) {
	s := redact.New()
	v, err := starlark.EvalOptions(&syntax.FileOptions{}, &starlark.Thread{}, "v", `[{"x": {"psk": ["psk-one", {"id": "id-kept", "data": "psk-two"}]}}, ("a", {"type": "EAP", "data": "eap-three"})]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Learn(v)
	s.Learn(starlark.NewList([]starlark.Value{secretValue{}}))
	s.LearnArgs("vici.call", starlark.Tuple{starlark.String("load-shared")}, nil)
	s.LearnArgs("load-token", nil, []starlark.Tuple{{starlark.String("data"), starlark.Bytes("token-pin-4")}})
	got := s.Redact("psk-one psk-two eap-three held-xyz") + " " + s.Redact("token-pin-4 id-kept")
	if want := "<redacted> <redacted> <redacted> <redacted> <redacted> id-kept"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
}

// TestLearnText: text that does not parse still teaches the values it
// seems to give to secrets; Private keeps such lines out of a history.
func TestLearnText(t *testing.T) {
	s := redact.New()
	s.LearnText(`vici.load_shared(type="IKE", data="text-data-1", owners=["a"]`)
	s.LearnText(`x = {"type": "X509", "data": "cert-data-2"`)
	s.LearnText(`psk = b'text-psk-3`)
	s.LearnText(`password: "text-pass-4"`)
	got := s.Redact("text-data-1 cert-data-2 text-psk-3 text-pass-4")
	if want := "<redacted> cert-data-2 text-psk-3 <redacted>"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	for line, private := range map[string]bool{
		`print(text-data-1)`:       true,
		`pin = "12`:                true,
		`vici.load_key(k)`:         true,
		`print("hello", 1)`:        false,
		`d = {"type": "x509"}`:     false,
		`d = {"data": '0123abcd'}`: true,
	} {
		if s.Private(line) != private {
			t.Errorf("Private(%q) = %v", line, !private)
		}
	}
}

// TestWriter: what goes through a Writer is redacted whole, and the count
// returned is what the caller gave.
func TestWriter(t *testing.T) {
	s := redact.New()
	s.Add("abc") // too short to be a secret
	s.Add("hunter2-x")
	s.Add("hunter2-xy") // longer, holds the other: replaced whole
	var out bytes.Buffer
	w := s.Writer(&out)
	line := "abc hunter2-xy hunter2-x\n"
	if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
		t.Errorf("Write = %d, %v", n, err)
	}
	if got := out.String(); got != "abc <redacted> <redacted>\n" {
		t.Errorf("wrote %q", got)
	}
	if got := strings.Count(s.Redact("hunter2-xyhunter2-xy"), "<redacted>"); got != 2 {
		t.Errorf("%d marks", got)
	}
}

// TestEveryEncoding: issue 16, a secret holding '<' or a control byte
// printed through json.encode and --log-json, whose JSON escapes differ
// from encoding/json's. A secret with each byte some encoder escapes is
// redacted in what every encoder the runtime (or a Go host) uses writes,
// and in what one writes of another's output (a log line quoting a dict's
// text, json.encode of str(d)).
func TestEveryEncoding(t *testing.T) {
	ctx := context.Background()
	dict := func(s string) *starlark.Dict {
		d := starlark.NewDict(1)
		_ = d.SetKey(starlark.String("k"), starlark.String(s))
		return d
	}
	vjsonOf := func(v starlark.Value) string {
		b, err := vjson.Encode(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	goJSONOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	encoders := map[string]func(s string) string{
		"raw":                    func(s string) string { return "x " + s },
		"repr":                   func(s string) string { return dict(s).String() },
		"bytes repr":             func(s string) string { return starlark.Bytes(s).String() },
		"%q of repr (log text)":  func(s string) string { return strconv.Quote(dict(s).String()) },
		"json.encode":            func(s string) string { return vjsonOf(dict(s)) },
		"json.encode of str(d)":  func(s string) string { return vjsonOf(starlark.String(dict(s).String())) },
		"--json of json.encode":  func(s string) string { return vjsonOf(starlark.String(vjsonOf(dict(s)))) },
		"pp of json.encode":      func(s string) string { return starlark.String(vjsonOf(dict(s))).String() },
		"%q of json.encode":      func(s string) string { return strconv.Quote(vjsonOf(dict(s))) },
		"json.encode of bytes":   func(s string) string { return vjsonOf(starlark.Bytes(s)) },
		"encoding/json":          func(s string) string { return goJSONOf(map[string]string{"k": s}) },
		"encoding/json twice":    func(s string) string { return goJSONOf(goJSONOf(map[string]string{"k": s})) },
		"encoding/json of repr":  func(s string) string { return goJSONOf(dict(s).String()) },
		"encoding/json, no HTML": func(s string) string { return goJSONNoHTML(t, s) },
	}
	var all strings.Builder
	for _, c := range []string{"<", ">", "&", `"`, `\`, "'", "\x00", "\x01", "\b", "\f", "\n", "\r", "\t",
		"\x7f", "\u2028", "é", "\xff", "ab<cd\x01efgh"} {
		all.WriteString(c)
		check(t, encoders, "Q7zz"+c+"Z9yy")
	}
	check(t, encoders, "Q7zz"+all.String()+"Z9yy")
}

func check(t *testing.T, encoders map[string]func(string) string, secret string) {
	t.Helper()
	s := redact.New()
	s.Add(secret)
	for name, encode := range encoders {
		out := encode(secret)
		if got := s.Redact(out); strings.Contains(got, "Q7zz") || !strings.Contains(got, "<redacted>") {
			t.Errorf("%q through %s: %s redacts to %s", secret, name, out, got)
		}
	}
}

// goJSONNoHTML returns s as encoding/json writes it without HTML escaping.
func goJSONNoHTML(t *testing.T, s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestSwanctlConfForms: issue 16, a PSK written in hex in swanctl.conf
// printed in clear (file.read of the file) while its base64 form was
// hidden. Every way swanctl.conf can give a secret is redacted once the
// secret is known: hex in either case, with ':' between digits or not,
// base64 with or without padding, a quoted string with escapes.
func TestSwanctlConfForms(t *testing.T) {
	s := redact.New()
	for _, secret := range []string{"hunter20-hex", "hunter21-b64", "hunter23-padd", `hunter22 "q"\` + "\t"} {
		s.Add(secret)
	}
	conf := `secrets {
  ike-1 { secret = 0x68756e74657232302d686578 }
  ike-2 { secret = 0X68756E74657232302D686578 }
  ike-3 { secret = 0x68:75:6e:74:65:72:32:30:2D:68:65:78 }
  ike-4 { secret = 0x6:875:6E7465723230:2d686578 }
  ike-6 { secret = 0saHVudGVyMjEtYjY0 }
  ike-7 { secret = 0saHVudGVyMjMtcGFkZA== }
  ike-10 { secret = 0saHVudGVyMjMtcGFkZA }
  ike-8 { secret = "hunter22 \"q\"\\\t" }
  ike-9 { id = 0x0123456789abcdef0123 }
}`
	got := s.Redact(conf)
	for _, leak := range []string{"6865", "6E74", "6e74", "aHVud", "hunter"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q shown:\n%s", leak, got)
		}
	}
	if n := strings.Count(got, "<redacted>"); n != 8 || !strings.Contains(got, "0x0123456789abcdef0123") {
		t.Errorf("%d secrets redacted, want 8, and the id kept:\n%s", n, got)
	}
}

// BenchmarkRedact: a 64 KiB listing with no secret in it, through a set of
// 20 secrets (the common case: every line the runtime writes).
func BenchmarkRedact(b *testing.B) {
	s := redact.New()
	for i := range 20 {
		s.Add(fmt.Sprintf("psk-%02d-<\x01>-secret", i))
	}
	line := `{"gw-042": {"uniqueid": "1042", "state": "ESTABLISHED", "remote-host": "192.0.2.42", "spi": "c0ffee42d00dfeed"}}` + "\n"
	text := strings.Repeat(line, 64<<10/len(line))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if s.Redact(text) != text {
			b.Fatal("redacted a text without secrets")
		}
	}
}
