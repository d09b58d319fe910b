package main

import (
	"strings"
	"testing"
)

// TestJSONOutputsRedactSecrets: issue 16, `vicish --json -e` and
// `vicish --log-json` printed a shared key's data holding '<' and a
// control byte, as json.encode escapes them (the redaction knew only
// encoding/json's \u003c); json.encode(k) and str(k) of a key the runtime
// had not seen yet passed its data through.
func TestJSONOutputsRedactSecrets(t *testing.T) {
	const key = `json.decode('{"type": "IKE", "data": "ab<cd\\u0001efgh"}')`
	for _, args := range [][]string{
		{"--json", "-e", key},
		{"--json", "-e", `json.encode(` + key + `)`},
		{"--log-json", "-e", `log.info("k", key=` + key + `)`},
		{"--log-json", "-e", `log.info("k", text=str(` + key + `))`},
		{"-e", `log.info("k", key=` + key + `)`},
	} {
		r := runVicish("", args...)
		all := r.stdout + r.stderr
		if r.code != 0 || strings.Contains(all, "ab<cd") || strings.Contains(all, "efgh") || !strings.Contains(all, "<redacted>") {
			t.Errorf("vicish %q: exit %d, wrote\n%s", args, r.code, all)
		}
	}
}
