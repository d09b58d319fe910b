package lab

import (
	"bytes"
	"strings"
	"testing"
)

// TestCommandRefusesStrayArguments: every lab subcommand names an argument
// it does not take, instead of ignoring it (found by the red team: `lab
// status extra` listed the labs). None of these reaches a daemon.
func TestCommandRefusesStrayArguments(t *testing.T) {
	for _, args := range [][]string{{"status", "extra"}, {"up", "extra"}, {"down", "extra"}, {"root", "extra"}} {
		var out, errOut bytes.Buffer
		code := Command(args, &out, &errOut)
		want := "lab " + args[0] + `: unexpected argument "extra"`
		if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), want) {
			t.Errorf("lab %s = %d, stdout %q, stderr %q; want 2 and %q", strings.Join(args, " "), code, out.String(), errOut.String(), want)
		}
	}
}
