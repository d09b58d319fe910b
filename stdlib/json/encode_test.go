package json_test

import (
	"context"
	gojson "encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/json"
)

// TestEncode: json.encode keeps dict order, writes bytes as base64, times
// as RFC 3339, and says where a value it cannot write is.
func TestEncode(t *testing.T) {
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: "test"}
	starlarktest.SetReporter(thread, t)
	predeclared := starlark.StringDict{
		"json":   json.Module,
		"assert": assert["assert"],
		"struct": starlark.NewBuiltin("struct", starlarkstruct.Make),
		"when":   libtime.Time(time.Date(2026, 11, 29, 12, 0, 0, 5, time.UTC)),
		"dur":    libtime.Duration(90 * time.Minute),
		"bad":    starlark.String("a\xff\xfeb"),
		"text":   display.Text("IKE_SA\n  CHILD_SA"),
	}
	src := `
# a rendered table (display.Text, what table.sas() returns) is a JSON string
assert.eq(json.encode([text]), '["IKE_SA\\n  CHILD_SA"]')
# key order is the dict's own: a vici reply's order is the daemon's
assert.eq(json.encode({"z": "1", "a": "2", "m": {"y": [], "b": {}}}), '{"z":"1","a":"2","m":{"y":[],"b":{}}}')
# bytes (certificates in list_certs) become base64
assert.eq(json.encode({"type": "X509", "data": b"\x30\x82\x01\xff"}), '{"type":"X509","data":"MIIB/w=="}')
assert.eq(json.encode(b""), '""')
assert.eq(json.encode([None, True, False, 0, -12345678901234567890, 1.5, "x"]), '[null,true,false,0,-12345678901234567890,1.5,"x"]')
assert.eq(json.encode(("a", ["b"])), '["a",["b"]]')
assert.eq(json.encode(set(["s"])), '["s"]')
assert.eq(json.encode(when), '"2026-11-29T12:00:00.000000005Z"')
assert.eq(json.encode(dur), '"1h30m0s"')
assert.eq(json.encode(struct(code=0, out=b"\xff")), '{"code":0,"out":"/w=="}')
# strings: escapes, invalid UTF-8 as U+FFFD, HTML characters kept
assert.eq(json.encode('q"\\\n\t\x01<&>é'), '"q\\"\\\\\\n\\t\\u0001<&>é"')
assert.eq(json.encode(bad), '"a\\ufffd\\ufffdb"')
assert.eq(json.decode(json.encode({"a": ["b", 1]})), {"a": ["b", 1]})
assert.eq(json.encode_indent({"a": [1]}, indent="  "), '{\n  "a": [\n    1\n  ]\n}')
assert.eq(json.encode_indent({"a": 1}, prefix="> ", indent=" "), '{\n>  "a": 1\n> }')

# errors say what and where
assert.fails(lambda: json.encode(), "json.encode: got 0 arguments, want 1")
assert.fails(lambda: json.encode({"a": [1, len]}), 'json.encode: at \\["a"\\]\\[1\\]: cannot encode builtin_function_or_method')
assert.fails(lambda: json.encode({1: 2}), "json.encode: dict has int key 1, want str")
assert.fails(lambda: json.encode(float("nan")), "cannot encode non-finite float")
assert.fails(lambda: json.encode(json), "cannot encode module")
assert.fails(lambda: json.encode_indent(1, "  "), "prefix and indent are keywords")
d = {"k": "v"}
d["self"] = d
assert.fails(lambda: json.encode(d), 'json.encode: at \\["self"\\]: dict contains itself')
l = []
l.append((1, l))
assert.fails(lambda: json.encode(l), "at \\[0\\]\\[1\\]: list contains itself")
s = struct(a = [1])
s.a.append(s)
assert.fails(lambda: json.encode(s), "at .a\\[1\\]: struct contains itself")
deep = []
for i in range(2000):
    deep = [deep]
assert.fails(lambda: json.encode(deep), "nested deeper than 1000 levels")
# the same value twice is not a cycle
shared = ["x"]
assert.eq(json.encode([shared, shared]), '[["x"],["x"]]')
`
	opts := &syntax.FileOptions{Set: true, TopLevelControl: true, GlobalReassign: true}
	if _, err := starlark.ExecFileOptions(opts, thread, "encode.star", src, predeclared); err != nil {
		if e, ok := err.(*starlark.EvalError); ok {
			t.Fatal(e.Backtrace())
		}
		t.Fatal(err)
	}
}

// TestEncodeValidJSON: whatever strings it gets, Encode writes JSON that
// Go's decoder accepts and reads back as the same text (for valid UTF-8).
func TestEncodeValidJSON(t *testing.T) {
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{"plain", "\u2028\u2029", "日本語", "\x00\x1f\x7f", all.String()} {
		out, err := json.Encode(context.Background(), starlark.String(s))
		if err != nil {
			t.Fatal(err)
		}
		var back string
		if err := gojson.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q encodes as %s, which Go rejects: %v", s, out, err)
		}
		if want := perByte(s); back != want {
			t.Errorf("%q came back as %q", s, back)
		}
	}
}

// perByte replaces each byte of invalid UTF-8 with U+FFFD.
func perByte(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r == utf8.RuneError && s[i] != 0xef {
			b.WriteRune('\ufffd')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestEncodeCancel: encoding a huge value stops when the thread's context
// ends.
func TestEncodeCancel(t *testing.T) {
	items := make([]starlark.Value, 1_000_000)
	for i := range items {
		items[i] = starlark.String("entry")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	thread := &starlark.Thread{}
	defer starctx.Attach(thread, ctx)()
	_, err := starlark.Call(thread, json.Module.Members["encode"], starlark.Tuple{starlark.NewList(items)}, nil)
	if err == nil || !errors.Is(err, starctx.ErrInterrupted) {
		t.Fatalf("got %v, want an interrupted error", err)
	}
}
