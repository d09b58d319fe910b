package script_test

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/script"
)

// eval evaluates a Starlark expression for the printer tests.
func eval(t *testing.T, expr string) starlark.Value {
	t.Helper()
	v, err := starlark.EvalOptions(&syntax.FileOptions{}, &starlark.Thread{}, "expr", expr, nil)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

func TestPrinter(t *testing.T) {
	for _, tc := range []struct {
		name, expr, want string
	}{
		{"scalar", `"10.1.0.0/24"`, `"10.1.0.0/24"`},
		{"short dict inline", `{"up": "yes", "n": [1, 2]}`, `{"up": "yes", "n": [1, 2]}`},
		{"tuple", `(1,)`, `(1,)`},
		{"text bytes", `b"hello\n"`, `b"hello\n"`},
		{"binary bytes", `b"\x30\x82\x01\x0a" + b"\x00" * 20`,
			`<24 bytes: 30 82 01 0a 00 00 00 00 00 00 00 00 00 00 00 00 ...>`},
		{"nested dict over lines",
			`{"ab": {"state": "ESTABLISHED", "child-sas": {"net-1": {"state": "INSTALLED", "local-ts": ["10.1.0.0/24"]}}}}`,
			"{\n" +
				"  \"ab\": {\n" +
				"    \"state\": \"ESTABLISHED\",\n" +
				"    \"child-sas\": {\"net-1\": {\"state\": \"INSTALLED\", \"local-ts\": [\"10.1.0.0/24\"]}},\n" +
				"  },\n" +
				"}"},
		{"long list folded", `list(range(12))`, "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... 2 more (12 items)]"},
		{"long list folded over lines", `["peer-%d.example.net" % i for i in range(12)]`,
			"[\n" +
				"  \"peer-0.example.net\", \"peer-1.example.net\", \"peer-2.example.net\", \"peer-3.example.net\",\n" +
				"  \"peer-4.example.net\", \"peer-5.example.net\", \"peer-6.example.net\", \"peer-7.example.net\",\n" +
				"  \"peer-8.example.net\", \"peer-9.example.net\",\n" +
				"  ... 2 more (12 items)\n" +
				"]"},
		{"list of dicts", `[{"name": "a" * 40}, {"name": "b" * 40}]`,
			"[\n  {\"name\": \"" + strings.Repeat("a", 40) + "\"},\n  {\"name\": \"" + strings.Repeat("b", 40) + "\"},\n]"},
		{"shared secret redacted", `{"type": "IKE", "data": "psk-value-1", "owners": ["a"]}`,
			`{"type": "IKE", "data": <redacted>, "owners": ["a"]}`},
		{"certificate data shown", `{"type": "X509", "data": b"\x30\x82"}`,
			`{"type": "X509", "data": <2 bytes: 30 82>}`},
		{"secret keys redacted", `{"id": "x", "secret": "s3cret!", "pin": "1234"}`,
			`{"id": "x", "secret": <redacted>, "pin": <redacted>}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &script.Printer{Width: 90, MaxItems: 10}
			if got := p.Format(eval(t, tc.expr)); got != tc.want {
				t.Errorf("Format(%s) =\n%s\nwant\n%s", tc.expr, got, tc.want)
			}
		})
	}
}

// TestPrinterRecordsSecrets: a redacted value is remembered, so the same
// string is hidden in later error messages too.
func TestPrinterRecordsSecrets(t *testing.T) {
	secrets := script.NewSecrets()
	p := &script.Printer{Secrets: secrets}
	p.Format(eval(t, `[{"type": "EAP", "data": "eap-password"}]`))
	if got := secrets.Redact(`key "eap-password" not found`); got != `key "<redacted>" not found` {
		t.Errorf("Redact = %q", got)
	}
}
