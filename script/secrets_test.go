package script_test

import (
	"context"
	"strings"
	"testing"
)

// TestSecretKeysFormatted: issue 16, json.encode({"psk": v}) and str(d)
// passed a secret key's value through as an ordinary string when the
// runtime had not seen v as a secret. Encoding or formatting a dict (or
// struct) whose key names a secret makes its value a known secret: the
// encoded text, and the bare value printed later, show <redacted>; other
// keys, and a certificate's data, stay shown.
func TestSecretKeysFormatted(t *testing.T) {
	rt, out := newRuntime(t)
	src := `
v, w, u, p, q = ["hunter4%d-run-time" % i for i in range(5)]
print(json.encode({"psk": v, "user": "carol"}))
print(json.encode_indent({"a": {"password": w}}))
print(str({"type": "IKE", "data": u, "owners": ["me@lab"]}))
print(repr(struct(pin = p)))
print(str([{"Passphrase": q}]))
print(str({"type": "X509", "data": "cert-" + "x" * 8}))
print(v, w, u, p, q)
`
	if _, err := rt.ExecFile(context.Background(), "f.star", src); err != nil {
		t.Fatal(rt.FormatError(err))
	}
	got := out.String()
	for _, want := range []string{`{"psk":"<redacted>","user":"carol"}`, `"password": "<redacted>"`,
		`"owners": ["me@lab"]`, `pin = "<redacted>"`, `"data": "cert-xxxxxxxx"`,
		"<redacted> <redacted> <redacted> <redacted> <redacted>\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "run-time") {
		t.Errorf("a secret shown:\n%s", got)
	}
}
