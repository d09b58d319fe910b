package log_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/stdlib/log"
)

var fixed = time.Date(2026, 11, 22, 17, 0, 0, 123456789, time.UTC)

// run executes src with a log module writing to w and a fixed clock.
func run(t *testing.T, w *bytes.Buffer, jsonLines bool, src string) error {
	t.Helper()
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: "test"}
	starlarktest.SetReporter(thread, t)
	libtime.SetNow(thread, func() (time.Time, error) { return fixed, nil })
	predeclared := starlark.StringDict{
		"log":    log.NewModule(w, jsonLines),
		"time":   libtime.Module,
		"assert": assert["assert"],
	}
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "test.star", src, predeclared)
	return err
}

func TestText(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`log.info("started")`, "2026-11-22T17:00:00.123Z INFO  started\n"},
		{`log.warn("slow", conn="primary", took=2.5)`, "2026-11-22T17:00:00.123Z WARN  slow conn=primary took=2.5\n"},
		{`log.error("failed", reason="peer unreachable", code=3, ok=False, x=None)`,
			`2026-11-22T17:00:00.123Z ERROR failed reason="peer unreachable" code=3 ok=False x=None` + "\n"},
		{`log.info("ts", local=["10.1.0.0/24", "10.3.0.0/24"], e="")`,
			`2026-11-22T17:00:00.123Z INFO  ts local="[\"10.1.0.0/24\", \"10.3.0.0/24\"]" e=""` + "\n"},
		{`log.info("two\nlines", k="a=b")`, `2026-11-22T17:00:00.123Z INFO  "two\nlines" k="a=b"` + "\n"},
		{`log.info(42)`, "2026-11-22T17:00:00.123Z INFO  42\n"},
		{`log.info("a"); log.info("b")`, "2026-11-22T17:00:00.123Z INFO  a\n2026-11-22T17:00:00.123Z INFO  b\n"},
	} {
		var buf bytes.Buffer
		if err := run(t, &buf, false, tc.src); err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		if got := buf.String(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.src, got, tc.want)
		}
	}
}

func TestJSONLines(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`log.info("started")`, `{"time":"2026-11-22T17:00:00.123456789Z","level":"info","msg":"started"}`},
		{`log.error("down", conn="primary", n=3, up=False, big=1 << 70, f=0.5, none=None)`,
			`{"time":"2026-11-22T17:00:00.123456789Z","level":"error","msg":"down","fields":{"conn":"primary","n":3,"up":false,"big":1180591620717411303424,"f":0.5,"none":null}}`},
		{`log.warn("<sa>", ts=["10.1.0.0/24"], sa={"state": "UP"}, d=time.second * 90, at=time.now(), t=(1, "x"))`,
			`{"time":"2026-11-22T17:00:00.123456789Z","level":"warn","msg":"<sa>","fields":{"ts":["10.1.0.0/24"],"sa":{"state":"UP"},"d":"1m30s","at":"2026-11-22T17:00:00.123456789Z","t":[1,"x"]}}`},
		{`log.info("odd", fn=len, inf=float("inf"))`,
			`{"time":"2026-11-22T17:00:00.123456789Z","level":"info","msg":"odd","fields":{"fn":"\u003cbuilt-in function len\u003e","inf":"+inf"}}`},
	} {
		var buf bytes.Buffer
		if err := run(t, &buf, true, tc.src); err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got := buf.String()
		if !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
			t.Errorf("%s: output %q is not exactly one line", tc.src, got)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: output %q is not valid JSON", tc.src, got)
		}
		if got = strings.TrimSuffix(got, "\n"); got != tc.want && !sameJSON(got, tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.src, got, tc.want)
		}
	}
}

// sameJSON reports whether a and b encode the same JSON value (HTML
// characters may be escaped or not).
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestErrors(t *testing.T) {
	var buf bytes.Buffer
	src := `
assert.eq(sorted(dir(log)), ["error", "info", "warn"])
assert.fails(lambda: log.info(), "log.info: got 0 positional arguments, want 1")
assert.fails(lambda: log.warn("a", "b"), "log.warn: got 2 positional arguments, want 1")
`
	if err := run(t, &buf, true, src); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("failed calls wrote %q", buf.String())
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("stderr closed") }

func TestWriteError(t *testing.T) {
	thread := &starlark.Thread{Name: "test"}
	_, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "test.star", `log.info("x")`,
		starlark.StringDict{"log": log.NewModule(failingWriter{}, false)})
	if err == nil || !strings.Contains(err.Error(), "log.info: stderr closed") {
		t.Fatalf("got %v, want the write error", err)
	}
}

// TestJSONLinesAsJSONEncode: a JSON line writes field values as
// json.encode does (the dict's own key order, bytes in base64), and a value
// json.encode refuses (a dict that contains itself) as its text, as the
// text lines do, instead of failing the script. Found by the red team:
// with --log-json, log.info("x", v=d) of such a dict raised an error, keys
// came out sorted and bytes lossy.
func TestJSONLinesAsJSONEncode(t *testing.T) {
	var buf bytes.Buffer
	src := "d = {\"z\": 1}\nd[\"self\"] = d\nlog.info(\"x\", v=d, order={\"z\": 1, \"a\": 2}, b=b\"\\xff\\x00\")\n"
	if err := run(t, &buf, true, src); err != nil {
		t.Fatalf("%v", err)
	}
	got := buf.String()
	want := `"fields":{"v":"{\"z\": 1, \"self\": {...}}","order":{"z":1,"a":2},"b":"/wA="}}`
	if !json.Valid([]byte(got)) || !strings.Contains(got, want) {
		t.Errorf("got %s\nwant a valid line containing %s", got, want)
	}
}
