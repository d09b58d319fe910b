package script_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/script"
)

// TestGate: every gated builtin asks the runtime's one gate. Without its
// capability a call is refused, wrapping capability.ErrDenied and naming
// the flag that grants it (the library names only the capability); with
// Options.Allow the call goes ahead.
func TestGate(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out")
	for _, tc := range []struct {
		c    capability.Capability
		src  string
		want string
	}{
		{capability.Exec, `exec.run(["true"])`, "exec.run runs local programs, which needs --allow-exec"},
		{capability.Net, `http.post("http://127.0.0.1:1/", body="x", timeout=1)`, "http.post uses the network, which needs --allow-net"},
		{capability.Write, `file.write(` + quote(target) + `, "x")`, "file.write replaces files, which needs --allow-write"},
		{capability.Listen, `http.listen("127.0.0.1:0").close()`, "http.listen accepts connections, which needs --allow-listen"},
	} {
		rt := script.New(script.Options{Getenv: func(string) string { return "" }})
		_, err := rt.ExecFile(context.Background(), "gate.star", tc.src)
		rt.Close()
		if !errors.Is(err, capability.ErrDenied) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s without %s: %v; want %q", tc.src, script.Flag(tc.c), err, tc.want)
		}
		rt = script.New(script.Options{Getenv: func(string) string { return "" }, Allow: []capability.Capability{tc.c}})
		_, err = rt.ExecFile(context.Background(), "gate.star", tc.src)
		rt.Close()
		if errors.Is(err, capability.ErrDenied) {
			t.Errorf("%s with %s: refused: %v", tc.src, script.Flag(tc.c), err)
		}
	}
	if data, err := os.ReadFile(target); err != nil || string(data) != "x" {
		t.Errorf("file.write with --allow-write: %q, %v", data, err)
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
