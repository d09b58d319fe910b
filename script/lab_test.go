package script_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/script"
)

// TestModulesShareTheDaemon runs a runbook against a real charon: the vici
// module and the swanctl module (which runs its commands on the vici
// module's connection) see the same daemon, and pp() keeps the PSK from a
// swanctl.conf off the output.
func TestModulesShareTheDaemon(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	dir := t.TempDir()
	conf := `connections {
    demo {
        remote_addrs = 192.0.2.2
        local { auth = psk
                id = a }
        remote { auth = psk
                 id = b }
        children { net { local_ts = 10.1.0.0/24 } }
    }
}
secrets {
    ike-demo { id = b
               secret = "tunnel-psk-0042" }
}
`
	if err := os.WriteFile(filepath.Join(dir, "swanctl.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rt := script.New(script.Options{URI: l.Gateway("a").URI, Stdout: &out, Stderr: &out,
		Getenv: func(string) string { return "" }})
	defer rt.Close()
	src := `
swanctl.apply(path = DIR)
print("conns:", vici.get_conns()["conns"])
pp(swanctl.load_conf(path = DIR)["secrets"])
pp(vici.version()["daemon"])
`
	src = strings.ReplaceAll(src, "DIR", `"`+dir+`"`)
	if _, err := rt.ExecFile(context.Background(), "apply.star", src); err != nil {
		t.Fatalf("%s\noutput:\n%s", rt.FormatError(err), out.String())
	}
	got := out.String()
	if !strings.Contains(got, `conns: ["demo"]`) || !strings.Contains(got, `"charon"`) {
		t.Errorf("output:\n%s", got)
	}
	if strings.Contains(got, "tunnel-psk-0042") {
		t.Errorf("the PSK was printed:\n%s", got)
	}
}
