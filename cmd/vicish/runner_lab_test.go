package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// TestRunnerAgainstLab covers the exit codes that involve a daemon, and the
// backtrace format, against real charon daemons.
func TestRunnerAgainstLab(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	uri := l.Gateway("a").URI
	dir := t.TempDir()

	t.Run("success", func(t *testing.T) {
		r := runVicish("", "--uri", uri, "-c", `v = vici.version(); print(v["daemon"], len(vici.list_conns()))`)
		if r.code != 0 || r.stdout != "charon 1\n" {
			t.Errorf("code %d, stdout %q, stderr %q; want 0 and \"charon 1\"", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("VICI_URI from the environment", func(t *testing.T) {
		cmd := vicishCmd(t, []string{"VICI_URI=" + uri}, "-c", `print(vici.version()["daemon"])`)
		out, err := cmd.Output()
		if err != nil || string(out) != "charon\n" {
			t.Errorf("output %q, error %v", out, err)
		}
	})

	t.Run("script error has a backtrace", func(t *testing.T) {
		file := filepath.Join(dir, "runbook.star")
		src := "def bring_up(name):\n" +
			"    vici.initiate(child = name, timeout = 2)\n" +
			"\n" +
			"bring_up(\"no-such-child\")\n"
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		r := runVicish("", "--uri", uri, file)
		if r.code != 1 {
			t.Errorf("code %d, want 1; stderr:\n%s", r.code, r.stderr)
		}
		want := "^Traceback \\(most recent call last\\):\n" +
			"  " + regexp.QuoteMeta(file) + ":4:9: in <toplevel>\n" +
			"  " + regexp.QuoteMeta(file) + ":2:18: in bring_up\n" +
			"Error in vici.initiate: .*no-such-child.*\n$"
		if !regexp.MustCompile(want).MatchString(r.stderr) {
			t.Errorf("stderr:\n%s\nwant it to match:\n%s", r.stderr, want)
		}
	})

	t.Run("--deadline bounds each command", func(t *testing.T) {
		// a peer that never answers: initiate would wait for minutes. The
		// connection is loaded by a run of its own, so that the only
		// command the deadline can cut short is the initiate.
		load := `vici.load_conn({"silent": {"remote_addrs": ["192.0.2.99"], "local": {"auth": "psk", "id": "a"},
    "remote": {"auth": "psk"}, "children": {"c": {"local_ts": ["10.1.0.0/24"]}}}})`
		if r := runVicish("", "--uri", uri, "-c", load); r.code != 0 {
			t.Fatalf("loading the silent connection: code %d, stderr %q", r.code, r.stderr)
		}
		r := runVicish("", "--uri", uri, "--deadline", "0.5", "-c", `vici.initiate(child = "c", ike = "silent")`)
		if r.code != 1 || !strings.Contains(r.stderr, "deadline") || !strings.Contains(r.stderr, "Error in vici.initiate") {
			t.Errorf("code %d, stderr %q; want 1 and a deadline error from vici.initiate", r.code, r.stderr)
		}
		runVicish("", "--uri", uri, "-c", `vici.terminate(ike = "silent", timeout = -1)`+"\n"+`vici.unload_conn(name = "silent")`)
	})

	t.Run("daemon unreachable", func(t *testing.T) {
		missing := "unix://" + filepath.Join(dir, "nobody-here.vici")
		r := runVicish("", "--uri", missing, "-c", `vici.version()`)
		if r.code != 3 || !strings.Contains(r.stderr, missing) {
			t.Errorf("code %d, stderr %q; want 3 and a message naming %s", r.code, r.stderr, missing)
		}
	})

	t.Run("daemon lost while listening", func(t *testing.T) {
		one := labtest.Start(t, lab.OneGateway)
		gw := one.Gateway("a")
		pr, pw := io.Pipe()
		var stderr bytes.Buffer
		code := make(chan int, 1)
		go func() {
			code <- run([]string{"--uri", gw.URI, "-c",
				`vici.on("ike-updown", lambda name, data: None)` + "\n" + `print("listening")` + "\n" + `vici.listen()`},
				strings.NewReader(""), pw, &stderr)
			pw.Close()
		}()
		line, _ := bufio.NewReader(pr).ReadString('\n')
		if line != "listening\n" {
			t.Fatalf("first line %q", line)
		}
		if err := gw.Kill(); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, pr)
		if c := <-code; c != 3 {
			t.Errorf("exit code %d, want 3; stderr:\n%s", c, stderr.String())
		}
	})

	t.Run("Ctrl-C while listening exits 130", func(t *testing.T) {
		cmd := vicishCmd(t, nil, "--uri", uri, "-c",
			`vici.on("ike-updown", lambda name, data: None)`+"\n"+`print("listening")`+"\n"+`vici.listen()`)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if line != "listening\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("first line %q, want \"listening\"; stderr: %s", line, stderr.String())
		}
		cmd.Process.Signal(syscall.SIGINT)
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 130 {
			t.Errorf("wait: %v, want exit status 130; stderr: %s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("stderr %q does not say it was interrupted", stderr.String())
		}
	})
}

// TestSmallOnesAgainstLab: issue 9's small ones against a real charon.
func TestSmallOnesAgainstLab(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	uri := l.Gateway("a").URI
	for _, tc := range []struct {
		name, code string
		exit       int
		want, not  string
	}{
		// a deadline that passes while connecting is a deadline error, not
		// an unreachable daemon (exit 3)
		{"1ns deadline", `vici.version(deadline=1e-9)`, 1, "within 1ns (deadline)", "may still complete"},
		{"huge deadline", `vici.version(deadline=9223372036.9)`, 1, "too long", "negative"},
		{"closed session", `s = vici.connect(); s.close(); s.list_sas()`, 1, "is closed", "connects again"},
		{"directory as socket", `vici.connect("/tmp")`, 3, "is a directory, not a socket", "probably exited"},
		{"remote URI needs --allow-net", `vici.connect("tcp://127.0.0.1:1")`, 1, "needs --allow-net", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runVicish("", "--uri", uri, "-c", tc.code)
			if r.code != tc.exit || !strings.Contains(r.stderr, tc.want) || (tc.not != "" && strings.Contains(r.stderr, tc.not)) {
				t.Errorf("code %d, stderr %q; want %d and %q without %q", r.code, r.stderr, tc.exit, tc.want, tc.not)
			}
		})
	}
	r := runVicish("", "--uri", uri, "--deadline", "1e-9", "-c", "vici.version()")
	if r.code != 1 {
		t.Errorf("--deadline 1e-9: code %d, stderr %q; want 1", r.code, r.stderr)
	}
}

// TestExprAndJSONAgainstLab: issue 11's one-liners. vicish -e prints a
// value as the REPL shows it; --json prints JSON that jq reads, in the
// daemon's key order; secrets stay redacted in both.
func TestExprAndJSONAgainstLab(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	uri := l.Gateway("a").URI
	r := runVicish("", "--uri", uri, "-e", `vici.version()`)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "{\n  \"daemon\": \"charon\",\n  \"version\": ") {
		t.Errorf("-e: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runVicish("", "--uri", uri, "--json", "-e", `vici.list_conns()`)
	if r.code != 0 {
		t.Fatalf("--json -e: code %d, stderr %q", r.code, r.stderr)
	}
	jq := exec.Command("jq", "-r", `.[0] | keys_unsorted[0] as $n | "\($n) \(.[$n].version) \(.[$n].children | keys_unsorted[0])"`)
	jq.Stdin = strings.NewReader(r.stdout)
	out, err := jq.Output()
	if err != nil || string(out) != "ab IKEv2 net\n" {
		t.Errorf("jq on %q: %q, %v", r.stdout, out, err)
	}
	r = runVicish("", "--uri", uri, "--json", "-e", `json.decode('{"type": "IKE", "data": "hunter9-json"}')`)
	if r.code != 0 || r.stdout != `{"type":"IKE","data":"<redacted>"}`+"\n" {
		t.Errorf("--json of a shared key: code %d, stdout %q", r.code, r.stdout)
	}
	r = runVicish("", "--uri", uri, "--json", "-e", `None`)
	if r.code != 0 || r.stdout != "null\n" {
		t.Errorf("--json None: code %d, stdout %q", r.code, r.stdout)
	}
}
