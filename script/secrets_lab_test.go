package script_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/script"
)

// TestSecretsNeverShown: docs/security.md promises that secrets are never shown. A
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
	checkSinks(t, l, src, []string{"hunter2-from-file", "hunter5-concat"},
		[]string{"data is <redacted>", `"data": <redacted>`, "built: <redacted>", "cannot use <redacted>", "error in the boom callback"})
}

// TestEncodedSecretsNeverShown: issue 16, a shared key whose data holds '<'
// and a control byte (ab<cd\x01efgh) showed through json.encode, --log-json
// and --json, whose JSON escapes are not encoding/json's. Loaded into a
// real charon, it goes through every encoder and formatter of the runtime,
// also one inside another (a log line quoting a dict's text, json.encode
// of str(k), pp of a JSON string), and through -e's --json.
func TestEncodedSecretsNeverShown(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	const key = `json.decode('{"type": "IKE", "data": "ab<cd\\u0001efgh", "owners": ["enc@lab"]}')`
	src := `
k = ` + key + `
vici.load_shared(k)
print("json", json.encode(k))
print(json.encode_indent(k, indent="  "))
print("twice", json.encode(json.encode(k)))
print("str", json.encode(str(k)))
pp(json.encode(k))
log.info("loaded", key=k, text=str(k), encoded=json.encode(k))
fail("cannot use %r" % k["data"])
`
	checkSinks(t, l, src, []string{"ab<cd", "efgh"},
		[]string{`"data":"<redacted>"`, `cannot use "<redacted>"`})

	// vicish --json -e: the value shown is learnt before it is encoded
	var out bytes.Buffer
	rt := script.New(script.Options{URI: l.Gateway("a").URI, Stdout: &out, Stderr: &out,
		Getenv: func(string) string { return "" }})
	defer rt.Close()
	ctx := context.Background()
	v, err := rt.Eval(ctx, "<-e>", `[{"reply": vici.load_shared(k), "key": k} for k in [`+key+`]]`)
	if err == nil {
		err = rt.Show(ctx, v, 0, true)
	}
	if err != nil {
		t.Fatal(rt.FormatError(err))
	}
	if got := out.String(); strings.Contains(got, "ab<cd") || !strings.Contains(got, `"data":"<redacted>"`) {
		t.Errorf("--json -e wrote %s", got)
	}
}

// TestSecretKeysNeverShown: issue 16, a value under a secret key went
// through json.encode and str() as an ordinary string. Values the runtime
// cannot have seen as secrets (built from what the real daemon answers)
// become secrets as soon as a dict or struct naming them as such is
// encoded or formatted, and stay hidden in every sink after that.
func TestSecretKeysNeverShown(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	src := `
daemon = vici.version()["daemon"]
v, w, u = daemon + "-psk-4e", daemon + "-pw-4e", daemon + "-data-4e"
print("encoded", json.encode({"psk": v}))
log.info("text", t=str(struct(password = w)))
print("repr", repr({"type": "IKE", "data": u}))
vici.load_shared(type = "IKE", data = u, owners = ["keys@lab"])
print("bare", v, w, u)
log.warn("bare", v=v, w=w, u=u)
fail("values %s %s %s" % (v, w, u))
`
	checkSinks(t, l, src, []string{"-psk-4e", "-pw-4e", "-data-4e"},
		[]string{`encoded {"psk":"<redacted>"}`, "bare <redacted> <redacted> <redacted>",
			"values <redacted> <redacted> <redacted>"})
}

// TestRevealedConfSecretsNeverShown: a shared secret read from a
// swanctl.conf prints as <secret>; once a script reveals it (to compare it,
// or to give it to load_shared) its bytes are a known secret in every sink:
// print, log in text and JSON, fail's traceback, and in base64 as
// json.encode writes bytes. Found by the red team: secret.reveal() printed
// in clear everywhere.
func TestRevealedConfSecretsNeverShown(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	dir := t.TempDir()
	conf := "secrets {\n  ike-x {\n    id = x@lab\n    secret = \"hunter12-conf\"\n  }\n" +
		"  eap-bob {\n    id = bob\n    secret = 0saHVudGVyMTMtYmFzZTY0\n  }\n}\n" // base64 of hunter13-base64
	if err := os.WriteFile(filepath.Join(dir, "swanctl.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `
c = swanctl.load_conf(` + strconv.Quote(dir) + `)
ike = c["secrets"]["ike-x"]["data"].reveal()
eap = c["secrets"]["eap-bob"]["data"].reveal()
vici.load_shared(type="IKE", data=ike, owners=["x@lab"])
print("ike", ike, str(ike))
print("eap", eap, json.encode(eap), json.encode({"k": eap}))
log.info("loaded", ike=ike, eap=eap)
fail("bad %s %s" % (ike, eap))
`
	checkSinks(t, l, src, []string{"hunter12-conf", "hunter13-base64", "aHVudGVyMTItY29uZg", "aHVudGVyMTMtYmFzZTY0"},
		[]string{"ike <redacted>", `bad b"<redacted>" b"<redacted>"`})
}

// TestConfSecretFormsNeverShown: issue 16, a PSK written in hex in
// swanctl.conf printed in clear through file.read of that file after
// swanctl.load_conf, while its 0s base64 form was hidden. Each form
// swanctl.conf gives a secret in (hex in either case and with ':', base64,
// a quoted string with escapes, a bare word, a key file's passphrase) is
// redacted once the runtime has read the file, by load_conf or by apply,
// which loads the secrets into a real charon without the script ever
// holding them.
func TestConfSecretFormsNeverShown(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	dir := t.TempDir()
	conf := `secrets {
  ike-hex { id = hex@lab
            secret = 0x68756e74657233302d686578 }
  ike-colons { id = colons@lab
               secret = 0x68:75:6E:74:65:72:33:31:2D:48:45:58 }
  ike-b64 { id = b64@lab
            secret = 0saHVudGVyMzItYjY0 }
  ike-quoted { id = quoted@lab
               secret = "hunter33 \"q\"\\x" }
  ike-bare { id = bare@lab
             secret = hunter34-bare }
  private-unused { file = none.pem
                   secret = hunter35-pass }
}
`
	if err := os.WriteFile(filepath.Join(dir, "swanctl.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// a private key, which apply loads and load_conf returns as a secret
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "private", "k.der"), der, 0o600); err != nil {
		t.Fatal(err)
	}
	leaks := []string{"68756e74", "68:75:6E", "6E:74", "aHVudGVy", "hunter3",
		base64.StdEncoding.EncodeToString(der)[20:40], hex.EncodeToString(der)[20:40],
		fmt.Sprintf("<%d bytes", len(der))} // pp's form of binary bytes
	wants := []string{"hex@lab", "colons@lab", "b64@lab", "quoted@lab", "bare@lab", "file = none.pem"}
	read := `
text = file.read(` + strconv.Quote(filepath.Join(dir, "swanctl.conf")) + `)
print(text)
log.info("conf", text=text)
print(json.encode(text))
pp(text)
`
	t.Run("apply", func(t *testing.T) {
		src := `r = swanctl.apply(` + strconv.Quote(dir) + `)
print("loaded", sorted(vici.get_shared()["keys"]))` + read
		checkSinks(t, l, src, leaks, append(wants, `loaded ["ike-b64", "ike-bare", "ike-colons", "ike-hex", "ike-quoted"]`))
	})
	t.Run("load_conf", func(t *testing.T) {
		src := `c = swanctl.load_conf(` + strconv.Quote(dir) + `)
k = c["keys"]["private/k.der"]["data"].reveal()
print("key", k)
print("key", json.encode(k), repr(k))
log.info("key", k=k)
pp(k)
pp(c["keys"])
` + read
		checkSinks(t, l, src, leaks, append(wants, "key <redacted>\n", `key "<redacted>" b"<redacted>"`))
	})
}

// checkSinks runs src against gateway a of l, with text and with JSON log
// lines, and checks that everything it wrote (output, log, the error that
// ended it) shows none of secrets and each of wants.
func checkSinks(t *testing.T, l *lab.Lab, src string, secrets, wants []string) {
	t.Helper()
	for _, jsonLog := range []bool{false, true} {
		var out, errOut bytes.Buffer
		rt := script.New(script.Options{URI: l.Gateway("a").URI, Stdout: &out, Stderr: &errOut, LogJSON: jsonLog,
			Getenv: func(string) string { return "" }})
		_, err := rt.ExecFile(context.Background(), "leak.star", src)
		msg := rt.FormatError(err)
		rt.Close()
		all := out.String() + errOut.String() + msg
		for _, secret := range secrets {
			if strings.Contains(all, secret) {
				t.Errorf("json=%v: %q shown:\n%s", jsonLog, secret, all)
			}
		}
		for _, want := range wants {
			if !strings.Contains(all, want) {
				t.Errorf("json=%v: output lacks %q:\n%s", jsonLog, want, all)
			}
		}
	}
}
