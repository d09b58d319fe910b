package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/internal/version"
	"github.com/vicish/vicish/vici"
)

// labRun runs `vicish lab ARGS...` in this process.
func labRun(args []string, stdout, stderr io.Writer) int {
	return labCommand(args, strings.NewReader(""), stdout, stderr)
}

func labCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// answers asks the vici socket at path for the daemon's version.
func answers(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := vici.Dial(ctx, "unix://"+path)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Call(ctx, "version", nil)
	return err
}

// TestLabRefusesStrayArguments: every lab subcommand names an argument
// it does not take, instead of ignoring it (found by the red team: `lab
// status extra` listed the labs). None of these reaches a daemon.
func TestLabRefusesStrayArguments(t *testing.T) {
	for _, args := range [][]string{{"status", "extra"}, {"up", "extra"}, {"down", "extra"}, {"root", "extra"}} {
		var out, errOut strings.Builder
		code := labRun(args, &out, &errOut)
		want := "lab " + args[0] + `: unexpected argument "extra"`
		if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), want) {
			t.Errorf("lab %s = %d, stdout %q, stderr %q; want 2 and %q", strings.Join(args, " "), code, out.String(), errOut.String(), want)
		}
	}
}

// TestLabUpStatusDown: `lab up` in a directory it creates (a mixed lab),
// `lab status`, `lab swanctl` running each gateway's own swanctl, and `lab
// down`, which removes the directory again.
func TestLabUpStatusDown(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	dir := filepath.Join(t.TempDir(), "lab")
	var out, errb strings.Builder
	if code := labRun([]string{"up", "--dir", dir, "--topology", "2", "--daemon", "a=newest"}, &out, &errb); code != 0 {
		t.Fatalf("lab up: exit %d: %s", code, errb.String())
	}
	t.Cleanup(func() { labRun([]string{"down", "--dir", dir}, io.Discard, io.Discard) })
	sock := "unix://" + filepath.Join(dir, "a", "charon.vici")
	newest, err := lab.RootVersion(lab.NewestRoot())
	if err != nil {
		t.Fatal(err)
	}
	newest, _, _ = strings.Cut(newest, "-") // the package's 6.1.0-2 is charon's 6.1.0
	for _, want := range []string{"gateway a  strongSwan " + newest + " (newest)", "gateway b  strongSwan 5.", "vicish --uri " + sock, "export VICI_URI=" + sock, filepath.Join(dir, "b", "charon.vici")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lab up output lacks %q:\n%s", want, out.String())
		}
	}
	if want := "vicish lab swanctl a --dir " + dir + " --list-conns"; !strings.Contains(out.String(), want) {
		t.Errorf("lab up output does not suggest %q:\n%s", want, out.String())
	}
	if err := answers(filepath.Join(dir, "a", "charon.vici")); err != nil {
		t.Fatalf("gateway a of `lab up` does not answer: %v", err)
	}
	out.Reset()
	if code := labRun([]string{"status"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), version.Current().String()+"\n") ||
		!strings.Contains(out.String(), dir) || !strings.Contains(out.String(), "answers") ||
		!strings.Contains(out.String(), "gateway a  strongSwan "+newest+" (newest)") || !strings.Contains(out.String(), "(system)") {
		t.Fatalf("lab status: exit %d:\n%s", code, out.String())
	}
	swanctl := func(args ...string) (int, string) {
		var out strings.Builder
		code := labRun(append([]string{"swanctl"}, args...), &out, &out)
		return code, out.String()
	}
	// a runs the newest strongSwan: its own swanctl is the root's.
	if code, out := swanctl("a", "--dir", dir, "--version"); code != 0 || !strings.Contains(out, "swanctl "+newest) {
		t.Errorf("lab swanctl a --version: exit %d, want swanctl %s:\n%s", code, newest, out)
	}
	if code, out := swanctl("--dir", dir, "b", "--list-conns"); code != 0 || !strings.Contains(out, "ab: IKEv2") {
		t.Errorf("lab swanctl b --list-conns: exit %d:\n%s", code, out)
	}
	// swanctl's exit code is passed on: the same as the host's swanctl's.
	host := exec.Command("swanctl", "--initiate", "--child", "no-such-child", "--timeout", "1")
	host.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "b", "strongswan.conf"), "SWANCTL_DIR="+filepath.Join(dir, "b"))
	hostOut, _ := host.CombinedOutput()
	code, out2 := swanctl("b", "--dir", dir, "--initiate", "--child", "no-such-child", "--timeout", "1")
	if code == 0 || code != host.ProcessState.ExitCode() {
		t.Errorf("lab swanctl b --initiate of an unknown child: exit %d, the host's swanctl %d:\n%s\n%s", code, host.ProcessState.ExitCode(), out2, hostOut)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--dir", dir}, 2, "want a gateway name before swanctl's arguments"},
		{[]string{"--list-sas"}, 2, "want a gateway name"},
		{[]string{"z", "--dir", dir, "--list-sas"}, 1, `has no gateway "z" (it has a, b)`},
		{[]string{"a", "--dir"}, 2, "--dir needs a value"},
	} {
		if code, out := swanctl(c.args...); code != c.code || !strings.Contains(out, c.msg) {
			t.Errorf("lab swanctl %q: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.msg, out)
		}
	}
	out.Reset()
	if code := labRun([]string{"down", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("lab down: exit %d: %s", code, errb.String())
	}
	if err := answers(filepath.Join(dir, "a", "charon.vici")); err == nil {
		t.Fatal("gateway a still answers after lab down")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("lab down left the directory lab up created: %v", err)
	}
	if code := labRun([]string{"down", "--dir", dir}, io.Discard, &errb); code != 1 || !strings.Contains(errb.String(), "no lab runs in") {
		t.Fatalf("second lab down: exit %d: %s", code, errb.String())
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"up", "--topology", "9"}, {"up", "extra"},
		{"up", "--daemon", "oldest"}, {"up", "--topology", "1", "--daemon", "b=newest"},
		{"up", "--topology", "star", "--gateways", "0"}, {"up", "--topology", "star", "--gateways", "201"},
		{"up", "--topology", "2", "--gateways", "5"}, {"up", "--topology", "star", "--gateways", "x"}} {
		if code := labRun(args, io.Discard, io.Discard); code != 2 {
			t.Errorf("lab %q: exit %d, want 2 (usage)", args, code)
		}
	}
}

// TestLabKillRestart is the CLI round trip of `lab kill` and
// `lab restart` on a lab started by `lab up`, as a user runs them.
func TestLabKillRestart(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	dir := filepath.Join(t.TempDir(), "lab")
	var out, errb strings.Builder
	if code := labRun([]string{"up", "--dir", dir, "--topology", "2"}, &out, &errb); code != 0 {
		t.Fatalf("lab up: exit %d: %s", code, errb.String())
	}
	t.Cleanup(func() { labRun([]string{"down", "--dir", dir}, io.Discard, io.Discard) })
	sockB := filepath.Join(dir, "b", "charon.vici")
	ctx := labCtx(t, 2*time.Minute)
	cmd := func(args ...string) (int, string, string) {
		var out, errb strings.Builder
		code := labRun(args, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, stdout, stderr := cmd("kill", "b", "--dir", dir)
	if code != 0 || !strings.Contains(stdout, "gateway b of lab") || !strings.Contains(stdout, "lab restart b --dir "+dir) {
		t.Fatalf("lab kill b: exit %d\n%s%s", code, stdout, stderr)
	}
	if err := answers(sockB); err == nil {
		t.Fatal("b still answers after lab kill")
	}
	if _, err := os.Stat(sockB); err != nil {
		t.Errorf("the killed daemon's socket file is gone: %v", err)
	}
	if _, stdout, _ := cmd("status"); !strings.Contains(stdout, "not running") {
		t.Errorf("status after kill:\n%s", stdout)
	}
	if code, _, stderr := cmd("kill", "--dir", dir, "b"); code != 1 || !strings.Contains(stderr, "not running") {
		t.Errorf("second kill: exit %d: %s", code, stderr)
	}
	code, stdout, stderr = cmd("restart", "--dir", dir, "b")
	if code != 0 || !strings.Contains(stdout, "gateway b of lab") || !strings.Contains(stdout, "strongSwan 5.") {
		t.Fatalf("lab restart b: exit %d\n%s%s", code, stdout, stderr)
	}
	if err := answers(sockB); err != nil {
		t.Fatalf("b does not answer after lab restart: %v", err)
	}
	// Restart of a running daemon replaces it; its configuration is back.
	code, stdout2, stderr := cmd("restart", "b", "--dir", dir)
	if code != 0 || stdout2 == stdout {
		t.Fatalf("restart of a running b: exit %d\n%s%s", code, stdout2, stderr)
	}
	swanctl := exec.CommandContext(ctx, "swanctl", "--initiate", "--ike", "ab", "--child", "net", "--timeout", "30")
	swanctl.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "a", "strongswan.conf"), "SWANCTL_DIR="+filepath.Join(dir, "a"))
	if out, err := swanctl.CombinedOutput(); err != nil {
		t.Fatalf("a cannot bring up ab with the restarted b: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"kill"}, 2, "want one gateway name"},
		{[]string{"kill", "a", "b", "--dir", dir}, 2, "got 2 arguments"},
		{[]string{"kill", "z", "--dir", dir}, 1, `no gateway "z" (it has a, b)`},
		{[]string{"restart", "a", "--dir", dir + "-none"}, 1, "no lab runs in"},
		{[]string{"kill", "a", "--bogus"}, 2, "unknown flag --bogus"},
		{[]string{"restart", "-dir"}, 2, "flag needs an argument: -dir"},
	} {
		if code, _, stderr := cmd(c.args...); code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("lab %q: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.msg, stderr)
		}
	}
}

// TestLabStar starts a small star from the command line, kills and
// restarts a spoke, and stops it.
func TestLabStar(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	dir := filepath.Join(t.TempDir(), "star")
	var out, errb strings.Builder
	if code := labRun([]string{"up", "--dir", dir, "--topology", "star", "--gateways", "3", "--daemon", "s2=newest"}, &out, &errb); code != 0 {
		t.Fatalf("lab up: exit %d: %s", code, errb.String())
	}
	t.Cleanup(func() { labRun([]string{"down", "--dir", dir}, io.Discard, io.Discard) })
	for _, want := range []string{"(star of 3 spokes,", "gateway hub  strongSwan 5.", "gateway s2  strongSwan 6.", "gateway s3 ",
		"Point vicish at gateway hub:", "export VICI_URI=unix://" + filepath.Join(dir, "hub", "charon.vici")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lab up output lacks %q:\n%s", want, out.String())
		}
	}
	for _, args := range [][]string{{"kill", "s2", "--dir", dir}, {"restart", "s2", "--dir", dir}} {
		out.Reset()
		if code := labRun(args, &out, &errb); code != 0 {
			t.Fatalf("lab %q: exit %d: %s", args, code, errb.String())
		}
	}
	if !strings.Contains(out.String(), "strongSwan 6.") || !strings.Contains(out.String(), "(newest)") {
		t.Errorf("the restarted spoke does not run the newest daemon again:\n%s", out.String())
	}
	out.Reset()
	if code := labRun([]string{"status"}, &out, &errb); code != 0 {
		t.Fatalf("lab status: exit %d: %s", code, errb.String())
	}
	for _, gw := range []string{"hub", "s1", "s2", "s3"} {
		sock := filepath.Join(dir, gw, "charon.vici")
		found := false
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, sock+"  ") {
				found = strings.HasSuffix(line, "  answers")
			}
		}
		if !found {
			t.Errorf("lab status does not show %s answering:\n%s", gw, out.String())
		}
	}
	if code := labRun([]string{"down", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("lab down: exit %d: %s", code, errb.String())
	}
}

// TestLabDirsAndSeveralLabs: `lab down` of a lab in a directory the user
// made keeps only what was there before; `lab up` refuses a directory that
// already holds a gateway's; and with two labs running, a bare `lab down`,
// `kill`, `restart` or `swanctl` lists them instead of picking one.
func TestLabDirsAndSeveralLabs(t *testing.T) {
	if err := lab.Check(); err != nil {
		labtest.Start(t, lab.OneGateway) // fails or skips with the reason
	}
	mine := t.TempDir()
	if err := os.WriteFile(filepath.Join(mine, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(mine, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "lab")
	for _, dir := range []string{mine, fresh} {
		var out, errb strings.Builder
		if code := labRun([]string{"up", "--dir", dir, "--topology", "1"}, &out, &errb); code != 0 {
			t.Fatalf("lab up --dir %s: exit %d: %s", dir, code, errb.String())
		}
		t.Cleanup(func() { labRun([]string{"down", "--dir", dir}, io.Discard, io.Discard) })
	}
	for _, args := range [][]string{{"down"}, {"kill", "a"}, {"restart", "a"}, {"swanctl", "a", "--list-conns"}} {
		var out, errb strings.Builder
		code := labRun(args, &out, &errb)
		if code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), "labs started by `lab up` are running; say which with --dir D or --id ID") ||
			!strings.Contains(errb.String(), "--dir "+mine+"  (") || !strings.Contains(errb.String(), "--dir "+fresh+"  (") {
			t.Errorf("bare lab %q with two labs: exit %d, want 2 listing both:\n%s%s", args, code, out.String(), errb.String())
		}
	}
	for _, dir := range []string{mine, fresh} {
		if err := answers(filepath.Join(dir, "a", "charon.vici")); err != nil {
			t.Fatalf("the lab in %s no longer answers after the refused bare commands: %v", dir, err)
		}
		var errb strings.Builder
		if code := labRun([]string{"down", "--dir", dir}, io.Discard, &errb); code != 0 {
			t.Fatalf("lab down --dir %s: exit %d: %s", dir, code, errb.String())
		}
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("lab down left %s, which lab up created: %v", fresh, err)
	}
	entries, err := os.ReadDir(mine)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "keys notes.txt" {
		t.Errorf("after lab down the user's directory holds %q, want only what was there before: keys notes.txt", names)
	}
	// A gateway's directory in the way (an earlier lab's, or the user's) is
	// not overwritten.
	if err := os.WriteFile(filepath.Join(mine, "a"), []byte("also mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	if code := labRun([]string{"up", "--dir", mine, "--topology", "1"}, io.Discard, &errb); code != 1 || !strings.Contains(errb.String(), "already holds a") {
		t.Errorf("lab up in a directory holding a: exit %d: %s", code, errb.String())
	}
	if b, _ := os.ReadFile(filepath.Join(mine, "a")); string(b) != "also mine" {
		t.Errorf("the refused lab up changed the user's file a: %q", b)
	}
}
