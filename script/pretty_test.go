package script_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/redact"
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
			if got, err := p.Format(eval(t, tc.expr)); err != nil || got != tc.want {
				t.Errorf("Format(%s) =\n%s\nwant\n%s", tc.expr, got, tc.want)
			}
		})
	}
}

// TestPrinterRecordsSecrets: a redacted value is remembered, so the same
// string is hidden in later error messages too.
func TestPrinterRecordsSecrets(t *testing.T) {
	secrets := redact.New()
	p := &script.Printer{Secrets: secrets}
	if _, err := p.Format(eval(t, `[{"type": "EAP", "data": "eap-password"}]`)); err != nil {
		t.Fatal(err)
	}
	if got := secrets.Redact(`key "eap-password" not found`); got != `key "<redacted>" not found` {
		t.Errorf("Redact = %q", got)
	}
}

// TestPrinterHidesBinarySecrets: binary bytes show as their length and
// first 16 bytes in hex, a form no redaction can match: a known secret
// (a random PSK, a key's DER) shows as <redacted> instead, alone or inside
// a value; other binary bytes as before.
func TestPrinterHidesBinarySecrets(t *testing.T) {
	secrets := redact.New()
	secrets.Add("\x01\x02\x03\xfe\xff")
	p := &script.Printer{Secrets: secrets}
	for expr, want := range map[string]string{
		`b"\x01\x02\x03\xfe\xff"`:                "<redacted>",
		`[b"\x01\x02\x03\xfe\xff", b"\x01\x02"]`: "[<redacted>, <2 bytes: 01 02>]",
	} {
		if got, err := p.Format(eval(t, expr)); err != nil || got != want {
			t.Errorf("Format(%s) = %q, %v; want %q", expr, got, err, want)
		}
	}
}

// exec runs src and returns its globals, for values a single expression
// cannot build (a dict that contains itself).
func exec(t *testing.T, src string) starlark.StringDict {
	t.Helper()
	g, err := starlark.ExecFileOptions(&syntax.FileOptions{While: true, TopLevelControl: true, GlobalReassign: true}, &starlark.Thread{}, "src", src, nil)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return g
}

// TestPrinterCycles: issue 9, pp() of a dict or list that contains itself
// died with "fatal error: stack overflow".
func TestPrinterCycles(t *testing.T) {
	g := exec(t, `
d = {"name": "d"}
d["self"] = d
l = [1]
l.append(l)
wide = {"k%d" % i: "v" * 10 for i in range(8)}
wide["self"] = wide
`)
	for _, tc := range []struct{ name, want string }{
		{"d", `{"name": "d", "self": {...}}`},
		{"l", `[1, [...]]`},
	} {
		got, err := (&script.Printer{}).Format(g[tc.name])
		if err != nil || got != tc.want {
			t.Errorf("Format(%s) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	got, err := (&script.Printer{Width: 40}).Format(g["wide"])
	if err != nil || !strings.Contains(got, `  "self": {...},`) {
		t.Errorf("Format(wide) over lines = %q, %v; want the recursion shown as {...}", got, err)
	}
}

// TestPrinterDepthAndLimit: nesting deeper than MaxDepth shows as ...;
// MaxItems < 0 (pp(x, limit=None)) shows every item.
func TestPrinterDepthAndLimit(t *testing.T) {
	g := exec(t, `
deep = {}
d = deep
for i in range(100000):
    d["x"] = {}
    d = d["x"]
many = list(range(200))
`)
	got, err := (&script.Printer{MaxDepth: 3}).Format(g["deep"])
	if err != nil || got != `{"x": {"x": {"x": ...}}}` {
		t.Errorf("Format(deep, MaxDepth 3) = %q, %v", got, err)
	}
	if got, err := (&script.Printer{}).Format(g["deep"]); err != nil || strings.Count(got, `"x"`) != 64 {
		t.Errorf("Format(100000 levels) shows %d levels, %v; want 64", strings.Count(got, `"x"`), err)
	}
	got, err = (&script.Printer{MaxItems: -1}).Format(g["many"])
	if err != nil || !strings.Contains(got, " 199,") || strings.Contains(got, "more") {
		t.Errorf("Format(200 items, no limit) = %q, %v", got, err)
	}
}

// TestPrinterCancelled: a long rendering ends when the context does.
func TestPrinterCancelled(t *testing.T) {
	g := exec(t, `big = [{"n": i, "s": "x" * 50} for i in range(200000)]`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&script.Printer{MaxItems: -1, Context: ctx}).Format(g["big"]); err == nil {
		t.Fatal("Format with an ended context succeeded")
	}
}

// TestPrinterText: a display.Text (a rendered table) shows as its lines at
// the top, and quoted inside a container.
func TestPrinterText(t *testing.T) {
	text := display.Text("NAME  STATE\nab    UP\n")
	if got, _ := (&script.Printer{}).Format(text); got != "NAME  STATE\nab    UP" {
		t.Errorf("Format(Text) = %q, want its lines", got)
	}
	list := starlark.NewList([]starlark.Value{text})
	if got, _ := (&script.Printer{}).Format(list); got != `["NAME  STATE\nab    UP\n"]` {
		t.Errorf("Format([Text]) = %q", got)
	}
}

// BenchmarkPrinterDeep measures pp() of nested dicts, which was cubic
// (800 levels 1 s, 1600 levels 8.5 s); compare the two sizes' ns/op.
func BenchmarkPrinterDeep(b *testing.B) {
	for _, n := range []int{800, 1600} {
		v := starlark.Value(starlark.NewDict(0))
		for range n {
			d := starlark.NewDict(1)
			_ = d.SetKey(starlark.String("x"), v)
			v = d
		}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				if _, err := (&script.Printer{MaxDepth: n + 1}).Format(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
