package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestPrometheusRules: the alert rules shipped in examples/prometheus pass
// promtool check rules and their unit tests (promtool test rules), and
// every metric they use is one the exporter writes (lib/metrics.star's
// METRICS), so a renamed metric cannot leave a rule silently empty.
func TestPrometheusRules(t *testing.T) {
	bin := promtool(t)
	dir := filepath.Join("..", "examples", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "strongswan.rules.yml"},
		{"test", "rules", "strongswan.rules.test.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %q: %v\n%s", args, err, out)
		}
	}
	rules, err := os.ReadFile(filepath.Join(dir, "strongswan.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := os.ReadFile(filepath.Join("lib", "metrics.star"))
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bstrongswan_[a-z_]+\b`).FindAllString(string(rules), -1)
	if len(used) == 0 {
		t.Fatal("the rules use no strongswan_ metric")
	}
	for _, name := range used {
		if !regexp.MustCompile(`(?m)^\s*"` + name + `": \(`).Match(lib) {
			t.Errorf("the rules use %s, which lib/metrics.star does not write", name)
		}
	}
}
