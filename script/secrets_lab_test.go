package script_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/script"
)

// TestSecretsNeverShown: README promises that secrets are never shown. A
// shared key read at run time (json.decode: no literal the source scan
// could see) and one built by concatenation go through every sink of a
// script — print, pp, log in text and JSON, an error in a listen(keep_going
// =True) callback, fail's traceback, exit's message — against a real
// charon; none may show them (issue 9).
func TestSecretsNeverShown(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	src := `
k = json.decode('{"type": "IKE", "data": "hunter2-from-file", "owners": ["carol@lab"]}')
vici.load_shared(k)
print(k)
print("data is", k["data"])
pp(k)
pp(k["data"])
log.info("x", key=k)
log.warn("p", psk="hunter5-" + "concat")
print("built:", "hunter5-" + "concat")
def boom(name, data):
    vici.stop()
    fail("bad key %s" % k)
vici.on("log", boom)
vici.load_shared(k)
vici.listen(timeout=10, keep_going=True, count=1)
fail("cannot use %s" % k["data"])
`
	for _, jsonLog := range []bool{false, true} {
		var out, errOut bytes.Buffer
		rt := script.New(script.Options{URI: l.Gateway("a").URI, Stdout: &out, Stderr: &errOut, LogJSON: jsonLog,
			Getenv: func(string) string { return "" }})
		_, err := rt.ExecFile(context.Background(), "leak.star", src)
		msg := rt.FormatError(err)
		rt.Close()
		all := out.String() + errOut.String() + msg
		for _, secret := range []string{"hunter2-from-file", "hunter5-concat"} {
			if strings.Contains(all, secret) {
				t.Errorf("json=%v: %q shown:\n%s", jsonLog, secret, all)
			}
		}
		for _, want := range []string{"data is <redacted>", `"data": <redacted>`, "built: <redacted>", "cannot use <redacted>", "error in the boom callback"} {
			if !strings.Contains(all, want) {
				t.Errorf("json=%v: output lacks %q:\n%s", jsonLog, want, all)
			}
		}
	}
}
