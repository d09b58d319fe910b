package scripts_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// Tests of the fleet runbooks (fleet-status.star, metrics.star,
// hooks/fleet-updown.star) against the three daemons of a Failover lab:
// a with "primary" (to b) and "backup" (to c), b and c answering.

// inventory writes an inventory file naming the lab's gateways and the
// extra "name uri" lines, and returns its path.
func inventory(t *testing.T, l *lab.Lab, extra ...string) string {
	t.Helper()
	text := "# the lab's gateways\n\n"
	for _, g := range l.Gateways {
		text += g.Name + "  " + g.URI + "   # gateway " + g.Name + "\n"
	}
	text += strings.Join(extra, "\n") + "\n"
	p := filepath.Join(t.TempDir(), "fleet")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// daemonVersion is "charon 5.9.8" as the daemon at uri reports itself.
func daemonVersion(t *testing.T, uri string) string {
	t.Helper()
	c, err := vici.Dial(testContext(t), uri)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := c.Call(testContext(t), "version", nil)
	if err != nil {
		t.Fatal(err)
	}
	return v.Get("daemon") + " " + v.Get("version")
}

// section returns the lines of out after the line starting with title, up
// to the next blank line.
func section(out, title string) []string {
	var lines []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, title):
			in = true
		case in && l == "":
			return lines
		case in:
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	return lines
}

// rowOf is the line of a section whose first column is name.
func rowOf(lines []string, name string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	return ""
}

func TestFleetStatus(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a := l.Gateway("a")
	missing := "unix://" + filepath.Join(t.TempDir(), "gone.vici")
	inv := inventory(t, l, "gone "+missing)
	initiate(t, ctx, a.URI, "primary", "net")

	for _, mode := range [][]string{nil, {"--sequential"}} {
		r := runScript(t, ctx, "", "fleet-status.star", append([]string{"--inventory", inv}, mode...)...)
		if r.code != 3 {
			t.Fatalf("%v: exit %d with an unreachable gateway, want 3", mode, r.code)
		}
		if !strings.HasPrefix(r.stdout, "FLEET: 4 gateways, 3 reachable, 1 unreachable; 2 connections with something not up\n") {
			t.Errorf("%v: summary line: %q", mode, strings.SplitN(r.stdout, "\n", 2)[0])
		}
		overview := section(r.stdout, "FLEET:")
		if h := overview[0]; h != "GATEWAY DAEMON UPTIME IKE_SAS CHILD_SAS NOT UP" {
			t.Errorf("%v: header %q", mode, h)
		}
		// Uptime is the daemon's words ("12 seconds"); the counts are what
		// the lab holds: a and b one IKE_SA with one CHILD_SA each, c none.
		for name, want := range map[string]string{
			"a": `^a ` + regexp.QuoteMeta(daemonVersion(t, a.URI)) + ` \d+ \w+ 1 1 1$`,
			"b": `^b ` + regexp.QuoteMeta(daemonVersion(t, l.Gateway("b").URI)) + ` \d+ \w+ 1 1 -$`,
			"c": `^c ` + regexp.QuoteMeta(daemonVersion(t, l.Gateway("c").URI)) + ` \d+ \w+ 0 0 1$`,
		} {
			if row := rowOf(overview, name); !regexp.MustCompile(want).MatchString(row) {
				t.Errorf("%v: row of %s: %q, want %s", mode, name, row, want)
			}
		}
		if row := rowOf(overview, "gone"); row != "gone UNREACHABLE - - - -" {
			t.Errorf("%v: row of the unreachable gateway: %q", mode, row)
		}
		notUp := section(r.stdout, "NOT UP")
		want := []string{"GATEWAY CONNECTION IKE_SA CHILDREN NOT UP", "a backup down net", "c backup down net"}
		if strings.Join(notUp, "\n") != strings.Join(want, "\n") {
			t.Errorf("%v: NOT UP section %q, want %q", mode, notUp, want)
		}
		unreachable := section(r.stdout, "UNREACHABLE")
		if len(unreachable) != 1 || !strings.HasPrefix(unreachable[0], "gone: ") || !strings.Contains(unreachable[0], "does not exist") {
			t.Errorf("%v: UNREACHABLE section %q", mode, unreachable)
		}
	}

	// URIs as arguments: each is its own name. All reachable, something down: 4.
	r := runScript(t, ctx, "", "fleet-status.star", a.URI, l.Gateway("c").URI)
	if r.code != 4 || rowOf(section(r.stdout, "NOT UP"), a.URI) != a.URI+" backup down net" {
		t.Errorf("two URIs with backup down: exit %d, want 4 and a row for %s", r.code, a.URI)
	}
	// Everything up: 0, and no NOT UP section.
	initiate(t, ctx, a.URI, "backup", "net")
	r = runScript(t, ctx, "", "fleet-status.star", "--inventory", inventory(t, l))
	if r.code != 0 || section(r.stdout, "NOT UP (") != nil || strings.Contains(r.stdout, "UNREACHABLE") ||
		!strings.HasPrefix(r.stdout, "FLEET: 3 gateways, 3 reachable, 0 unreachable; 0 connections with something not up\n") {
		t.Errorf("all up: exit %d, want 0 and a clean screen", r.code)
	}
	// A connection that is up with a child that is not: terminate a's
	// CHILD_SA of backup, keep its IKE_SA.
	c, err := vici.Dial(ctx, a.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Call(ctx, "terminate", vici.NewMessage().Set("child", "net").Set("ike", "backup")); err != nil {
		t.Fatal(err)
	}
	r = runScript(t, ctx, "", "fleet-status.star", a.URI)
	if r.code != 4 || rowOf(section(r.stdout, "NOT UP"), a.URI) != a.URI+" backup up net" {
		t.Errorf("child down under an established IKE_SA: exit %d", r.code)
	}
}

func TestFleetArguments(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("hq unix:///run/a.vici\nbranch\n"), 0o600)
	twice := filepath.Join(dir, "twice")
	os.WriteFile(twice, []byte("hq unix:///run/a.vici\nhq unix:///run/b.vici\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nothing yet\n"), 0o600)
	for _, name := range []string{"fleet-status.star", "metrics.star", "hooks/fleet-updown.star"} {
		prog := filepath.Base(name)
		// A missing file is a usage mistake; otherwise the file module's
		// errors say what is wrong with the file.
		for p, want := range map[string]string{filepath.Join(dir, "missing"): "--inventory " + filepath.Join(dir, "missing") + ": no such file\nusage: vicish", dir: "file.read: "} {
			r := runScript(t, ctx, "", name, "--inventory", p)
			if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, p) {
				t.Errorf("%s --inventory %s: exit %d, stderr %q, want %q", name, p, r.code, r.stderr, want)
			}
		}
		cases := []struct {
			args []string
			want string
		}{
			{nil, prog + ": name the gateways: URIs as arguments or --inventory FILE"},
			{[]string{"--inventory"}, "--inventory needs a value"},
			{[]string{"--inventory", bad}, bad + `:2: want "name uri", got "branch"`},
			{[]string{"--inventory", twice}, twice + `:2: gateway "hq" is listed twice`},
			{[]string{"--inventory", empty}, "no gateways in the inventory"},
			{[]string{"--timeout", "soon", "unix:///run/a.vici"}, "--timeout wants a positive number of seconds"},
			{[]string{"--frobnicate"}, `unknown option "--frobnicate"`},
			{[]string{"--sequential=yes", "x"}, "--sequential takes no value"},
			{[]string{"unix:///run/a.vici", "unix:///run/a.vici"}, `gateway "unix:///run/a.vici" is given twice`},
		}
		for _, tc := range cases {
			r := runScript(t, ctx, "", name, tc.args...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "usage: vicish") {
				t.Errorf("%s %q: exit %d, stderr %q, want 1 and %q with the usage", name, tc.args, r.code, r.stderr, tc.want)
			}
		}
		if r := runScript(t, ctx, "", name, "--help"); r.code != 0 || !strings.HasPrefix(r.stdout, "usage: vicish") {
			t.Errorf("%s --help: exit %d, stdout %q", name, r.code, r.stdout)
		}
	}
	r := runScript(t, ctx, "", "hooks/fleet-updown.star", "--retry", "0", "unix:///run/a.vici")
	if r.code != 1 || !strings.Contains(r.stderr, "--retry wants a positive number of seconds") {
		t.Errorf("fleet-updown --retry 0: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runScript(t, ctx, "", "fleet-status.star", "--retry", "1", "unix:///run/a.vici"); r.code != 1 || !strings.Contains(r.stderr, `unknown option "--retry"`) {
		t.Errorf("fleet-status --retry: exit %d, stderr %q", r.code, r.stderr)
	}
}

// scriptArgs is the vicish command line running scripts/name with args.
func scriptArgs(name string, args ...string) []string { return append([]string{name}, args...) }

// childSAs lists the CHILD_SAs of the daemon at uri.
func childSAs(t *testing.T, uri string) []*vici.Message {
	t.Helper()
	c, err := vici.Dial(testContext(t), uri)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []*vici.Message
	for m, err := range c.Stream(testContext(t), "list-sas", "list-sa", nil) {
		if err != nil {
			t.Fatal(err)
		}
		for _, conn := range m.Keys() {
			children := m.Section(conn).Section("child-sas")
			if children == nil {
				continue
			}
			for _, k := range children.Keys() {
				out = append(out, children.Section(k))
			}
		}
	}
	return out
}

// TestFleetUpdownHook runs the hook as a vicish process over the three
// gateways: the lines of both ends of each tunnel with their gateway's
// name, a reconnected line when one daemon restarts while the others keep
// reporting, and a clean stop on SIGTERM.
func TestFleetUpdownHook(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a, c := l.Gateway("a"), l.Gateway("c")
	bin := buildVicish(t)
	gone := "unix://" + filepath.Join(t.TempDir(), "gone.vici")
	// c is down when the hook starts: it is tried again every second.
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	p := startVicish(t, ctx, bin, nil, "hooks/fleet-updown.star", "--retry", "1", "--inventory", inventory(t, l), gone)
	out, errs := p.out, p.errs
	for _, name := range []string{"c", gone} {
		if e := errs.next(t, "the unreachable gateway's note"); !strings.Contains(e, "gateway not watched yet gateway="+name+" retry=1") {
			t.Fatalf("note on %s: %q", name, e)
		}
	}
	if e := errs.next(t, "the startup note"); !strings.Contains(e, "fleet-updown hook listening gateways=2") {
		t.Fatalf("startup note: %q", e)
	}
	// read returns the next n lines, ordered by gateway: the two ends of a
	// tunnel report in either order.
	read := func(what string, n int) map[string]hookLine {
		t.Helper()
		got := map[string]hookLine{}
		for i := 0; i < n; i++ {
			raw := out.next(t, what)
			var f hookLine
			if err := json.Unmarshal([]byte(raw), &f); err != nil {
				t.Fatalf("%s: not a JSON line: %q", what, raw)
			}
			if _, dup := got[f.Gateway]; dup {
				t.Fatalf("%s: two lines from gateway %q: %q", what, f.Gateway, raw)
			}
			got[f.Gateway] = f
		}
		return got
	}
	expect := func(what string, got map[string]hookLine, conn, state, peer string) {
		t.Helper()
		want := map[string]hookLine{
			"a":  {Gateway: "a", Event: "ike-updown", Connection: conn, State: state, LocalID: "a", RemoteID: peer},
			peer: {Gateway: peer, Event: "ike-updown", Connection: conn, State: state, LocalID: peer, RemoteID: "a"},
		}
		for name, w := range want {
			h := got[name]
			// The two ends see each other's addresses.
			if h.UniqueID == "" || h.Time == "" || h.LocalHost == "" || h.LocalHost != got[w.RemoteID].RemoteHost {
				t.Fatalf("%s: gateway %s: %+v (other end %+v)", what, name, h, got[w.RemoteID])
			}
			w.Time, w.UniqueID, w.LocalHost, w.RemoteHost = h.Time, h.UniqueID, h.LocalHost, h.RemoteHost
			want[name] = w
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: %+v, want %+v", what, got, want)
		}
	}
	initiate(t, ctx, a.URI, "primary", "net")
	expect("primary up", read("primary up", 2), "primary", "up", "b")
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// Until c answers, and for gone all along, the hook waits for them;
	// it says "watched" only of c, once it answered.
	waitingGone := false
	for {
		e := errs.next(t, "c watched")
		if strings.Contains(e, "gateway watched gateway="+gone) {
			t.Fatalf("the hook says it watches %s, where nothing answers: %q", gone, e)
		}
		waitingGone = waitingGone || strings.Contains(e, "INFO  waiting for gateway gateway="+gone+" retry=1")
		if strings.Contains(e, "gateway watched gateway=c") {
			break
		}
		if !strings.Contains(e, "waiting for gateway gateway=") {
			t.Fatalf("before c was watched: %q", e)
		}
	}
	initiate(t, ctx, a.URI, "backup", "net")
	expect("backup up", read("backup up", 2), "backup", "up", "c")

	// c restarts: its session reconnects; a's and b's events flow meanwhile.
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	terminate(t, ctx, a.URI, "primary")
	expect("primary down while c is gone", read("primary down", 2), "primary", "down", "b")
	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if f := read("c's reconnect line", 1)["c"]; f.Event != "reconnected" || f.URI != c.URI {
		t.Fatalf("after c's restart: %+v", f)
	}
	// a's old IKE_SA with c is stale (c has forgotten it and will not
	// answer a DELETE): drop it without waiting, start over on both ends.
	call(t, ctx, a.URI, "terminate", vici.NewMessage().Set("ike", "backup").Set("force", "yes").Set("timeout", "-1"))
	if f := read("a's stale backup down", 1)["a"]; f.Connection != "backup" || f.State != "down" {
		t.Fatalf("a's backup down: %+v", f)
	}
	initiate(t, ctx, a.URI, "backup", "net")
	expect("backup up after c's restart", read("backup up again", 2), "backup", "up", "c")

	for !waitingGone {
		e := errs.next(t, "waiting for "+gone)
		waitingGone = strings.Contains(e, "INFO  waiting for gateway gateway="+gone+" retry=1")
	}
	if code := p.stop(t, syscall.SIGTERM); code != 143 {
		t.Fatalf("after SIGTERM: exit %d, want 143", code)
	}
	for _, e := range errs.rest() {
		if strings.Contains(e, "gateway watched gateway="+gone) || strings.Count(strings.Join(errs.rest(), "\n"), "waiting for gateway gateway="+gone) != 1 {
			t.Errorf("the hook's notes on %s (want one \"waiting for gateway\", no \"watched\"): %q", gone, errs.rest())
			break
		}
	}
	if rest := out.rest(); len(rest) != 10 {
		t.Errorf("the hook wrote %d lines, want 10: %q", len(rest), rest)
	}
}

// TestSystemdUnits checks the unit files of examples/systemd with
// systemd-analyze verify (the vicish path pointed at a real binary; their
// Documentation=man:vicish(1) is checked where the package is installed,
// by scripts/debian's install test): no error and no warning; and that the files they name exist in the Debian
// package's layout (/usr/share/vicish is scripts/, /etc/vicish is
// scripts/debian/files/etc/vicish).
func TestSystemdUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatalf("systemd-analyze is needed to check the unit files (apt install systemd): %v", err)
	}
	bin := buildVicish(t)
	dir := t.TempDir()
	units, err := filepath.Glob("../examples/systemd/*")
	if err != nil || len(units) == 0 {
		t.Fatalf("no unit files: %v", err)
	}
	var verify []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if strings.HasSuffix(u, ".service") && !strings.Contains(text, "ExecStart=/usr/bin/vicish ") {
			t.Errorf("%s: its ExecStart does not run /usr/bin/vicish, where the package installs it", u)
		}
		for _, m := range regexp.MustCompile(`/(usr/share/vicish|etc/vicish)(/[^\s%$]*)`).FindAllStringSubmatch(text, -1) {
			name := strings.TrimRight(m[2], ".,:;)")
			if strings.Contains(name, "<") || strings.HasSuffix(name, "/") {
				continue // a placeholder: /etc/vicish/hooks/<name>.env
			}
			in := map[string]string{"usr/share/vicish": "../scripts", "etc/vicish": "../scripts/debian/files/etc/vicish"}[m[1]]
			if _, err := os.Stat(in + name); err != nil {
				t.Errorf("%s names %s, which the package does not install (%v)", u, m[0], err)
			}
		}
		name := filepath.Base(u)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(text, "/usr/bin/vicish", bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "@.service") {
			name = strings.Replace(name, "@.", "@ike-updown.", 1)
		}
		verify = append(verify, filepath.Join(dir, name))
	}
	out, err := exec.Command(analyze, append([]string{"verify", "--man=no"}, verify...)...).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify %v: %v\n%s", verify, err, out)
	}
}

// sshClient writes an ssh_config using only the given known_hosts and the
// lab servers' client keys, and returns the VICI_SSH_COMMAND that uses it.
func sshClient(t *testing.T, known string, servers ...*lab.SSHD) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ssh_config")
	text := "Host *\n  IdentitiesOnly yes\n  IdentityAgent none\n  GlobalKnownHostsFile /dev/null\n  UserKnownHostsFile " + known + "\n"
	for _, s := range servers {
		text += "  IdentityFile " + s.IdentityFile + "\n"
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return "ssh -F " + p
}

// sshClients counts the ssh processes whose command line mentions needle.
func sshClients(t *testing.T, needle string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(b), "ssh\x00") && strings.Contains(string(b), needle) {
			n++
		}
	}
	return n
}

// waitNoSSH waits until no ssh process mentions needle. The limit only
// keeps a broken run from hanging; nothing is measured with it.
func waitNoSSH(t *testing.T, needle, after string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if sshClients(t, needle) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%s: ssh clients still running after 10s", after)
}

// TestFleetOverSSH is the hub model: vicish on this machine reaches
// gateways b and c through their sshd (a is local). The runbooks work over
// ssh://, a host key that is not known makes that gateway unreachable with
// the reason, a plain --uri with it exits 3, and the ssh processes end
// with vicish, also when it is killed.
func TestFleetOverSSH(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	ctx := testContext(t)
	a, b, c := l.Gateway("a"), l.Gateway("b"), l.Gateway("c")
	sb, sc := labtest.SSHD(t, b), labtest.SSHD(t, c)
	bin := buildVicish(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	kb, _ := os.ReadFile(sb.KnownHostsFile)
	kc, _ := os.ReadFile(sc.KnownHostsFile)
	if err := os.WriteFile(known, append(kb, kc...), 0o600); err != nil {
		t.Fatal(err)
	}
	sshCmd := sshClient(t, known, sb, sc)
	needle := strings.Fields(sshCmd)[2] // the ssh_config path
	inv := filepath.Join(t.TempDir(), "fleet")
	text := fmt.Sprintf("a %s\nb %s\nc %s\n", a.URI, sb.URI(b.Socket), sc.URI(c.Socket))
	if err := os.WriteFile(inv, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	initiate(t, ctx, a.URI, "primary", "net")
	vicish := func(env string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "VICI_SSH_COMMAND="+env)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("vicish %q: exit %d\n--- stdout\n%s--- stderr\n%s", args, code, stdout.String(), stderr.String())
		return code, stdout.String(), stderr.String()
	}

	code, out, _ := vicish(sshCmd, "--allow-net", "fleet-status.star", "--inventory", inv)
	overview := section(out, "FLEET:")
	if code != 4 || !regexp.MustCompile(`^b charon \S+ \d+ \w+ 1 1 -$`).MatchString(rowOf(overview, "b")) ||
		!regexp.MustCompile(`^c charon \S+ \d+ \w+ 0 0 1$`).MatchString(rowOf(overview, "c")) {
		t.Errorf("fleet-status over ssh: exit %d, want 4 with b's and c's rows", code)
	}
	waitNoSSH(t, needle, "after fleet-status")

	// Without c's host key, c is unreachable with the reason; the others answer.
	onlyB := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(onlyB, kb, 0o600)
	code, out, _ = vicish(sshClient(t, onlyB, sb, sc), "--allow-net", "fleet-status.star", "--inventory", inv)
	if code != 3 || rowOf(section(out, "FLEET:"), "c") != "c UNREACHABLE - - - -" ||
		!strings.Contains(strings.Join(section(out, "UNREACHABLE"), "\n"), "the host key of 127.0.0.1 is not in known_hosts") {
		t.Errorf("fleet-status with c's host key unknown: exit %d", code)
	}
	code, _, errOut := vicish(sshClient(t, onlyB, sb, sc), "--uri", sc.URI(c.Socket), "-e", "vici.version()")
	if code != 3 || !strings.Contains(errOut, "is not in known_hosts") {
		t.Errorf("--uri with an unknown host key: exit %d, want 3", code)
	}
	// A remote URI from a file needs --allow-net: the group refuses it.
	code, _, errOut = vicish(sshCmd, "fleet-status.star", "--inventory", inv)
	if code != 1 || !strings.Contains(errOut, `member "b": `+sb.URI(b.Socket)+" is a remote transport, which needs --allow-net") {
		t.Errorf("fleet-status over ssh without --allow-net: exit %d, want 1 and the reason", code)
	}

	// The hook over ssh; its ssh clients end when vicish is killed.
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		p := startVicish(t, ctx, bin, []string{"VICI_SSH_COMMAND=" + sshCmd}, "--allow-net", "hooks/fleet-updown.star", sb.URI(b.Socket), sc.URI(c.Socket))
		outLines, errLines := p.out, p.errs
		if e := errLines.next(t, "the startup note"); !strings.Contains(e, "gateways=2") {
			t.Fatalf("startup note: %q", e)
		}
		// Each session holds ssh for its command and its event connection.
		if n := sshClients(t, needle); n == 0 {
			t.Errorf("no ssh client while the hook runs")
		}
		initiate(t, ctx, a.URI, "backup", "net")
		var f hookLine
		if raw := outLines.next(t, "c's backup up"); json.Unmarshal([]byte(raw), &f) != nil || f.Gateway != sc.URI(c.Socket) || f.State != "up" {
			t.Errorf("over ssh: %q", raw)
		}
		terminate(t, ctx, a.URI, "backup")
		outLines.next(t, "c's backup down")
		if sig == syscall.SIGTERM {
			// c's daemon restarts: its session redials through a new ssh.
			if err := c.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := c.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			raw := outLines.next(t, "c's reconnect line")
			if json.Unmarshal([]byte(raw), &f) != nil || f.Event != "reconnected" || f.Gateway != sc.URI(c.Socket) {
				t.Errorf("after c's restart over ssh: %q", raw)
			}
			initiate(t, ctx, a.URI, "backup", "net")
			if raw := outLines.next(t, "c's backup up after the restart"); json.Unmarshal([]byte(raw), &f) != nil || f.State != "up" {
				t.Errorf("after c's restart over ssh: %q", raw)
			}
			terminate(t, ctx, a.URI, "backup")
			outLines.next(t, "c's backup down after the restart")
		}
		p.stop(t, sig)
		waitNoSSH(t, needle, "after "+sig.String())
	}
}
