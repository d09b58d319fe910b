package scripts_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab/labtest"
)

// TestDemo runs README's first command, bash scripts/demo.sh, as a user
// would, and checks that every step ran: the failover, the packet through
// the backup tunnel, and the hook's lines. The demo needs what the lab
// needs (root, strongSwan); like every lab test it fails on CI without them.
func TestDemo(t *testing.T) {
	if os.Geteuid() != 0 {
		labtest.SkipOffCI(t, "the demo needs root (network namespaces): run the tests as root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "demo.sh")
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash scripts/demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{
		"failover done: net now runs over backup",
		"== 9. real traffic",
		"== 12. what the hook printed",
		`"state":"up"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "FAILED") {
		t.Errorf("the demo reports a failure:\n%s", out)
	}
}
