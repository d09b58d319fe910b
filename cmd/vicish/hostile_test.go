package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/vici"
	"github.com/vicish/vicish/vici/vicitest"
)

// memoryLimit is the limit vicish runs under against a hostile peer:
// without the budgets, each case below took 1.2 GB or more. It is a limit
// of the data segment (RLIMIT_DATA: every private writable mapping, so
// the whole Go heap and the threads' stacks), not of the address space
// (RLIMIT_AS): a Go 1.26 program reserves 5.5 GB of address space at
// start, and under an address-space limit of 1 GiB a cgo build cannot
// even start its threads.
const memoryLimit = 1 << 30

// runLimited runs vicish with args under the memory limit (ulimit -d)
// and fails the test if it is still running after guard.
func runLimited(t *testing.T, guard time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	limit := "ulimit -d " + strconv.Itoa(memoryLimit>>10) + ` && exec "$0" "$@"`
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", limit, os.Args[0]}, args...)...)
	cmd.Env = vicishCmd(t, nil).Env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("vicish %q still ran after %v; stderr:\n%s", args, guard, errOut.String())
	}
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// hostilePeer starts a fake daemon that answers version like charon and
// misbehaves as d says; it returns the URI to give vicish.
func hostilePeer(t *testing.T, d *vicitest.Daemon) string {
	if d.Commands == nil {
		d.Commands = map[string]vicitest.Handler{}
	}
	d.Commands["version"] = vicitest.Version
	srv := vicitest.NewServer(t)
	srv.ServeAll(d)
	return srv.URI()
}

// hostileCase is a run of vicish against a misbehaving peer and how it
// must end.
type hostileCase struct {
	name   string
	daemon *vicitest.Daemon
	args   []string
	code   int
	want   []string // in stderr, or in stdout when code is 0
}

// runHostile runs the cases in parallel, each against a peer of its own
// under the memory limit: each must end with its exit code and say what
// it wants, without a crash.
func runHostile(t *testing.T, cases []hostileCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			uri := hostilePeer(t, tc.daemon)
			r := runLimited(t, 2*time.Minute, append([]string{"--uri", uri}, tc.args...)...)
			out := r.stderr
			if tc.code == 0 {
				out = r.stdout
			}
			if r.code != tc.code {
				t.Errorf("exit code %d, want %d", r.code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if strings.Contains(r.stderr, "fatal error") || strings.Contains(r.stderr, "goroutine ") || t.Failed() {
				t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
		})
	}
}

// A misbehaving VICI peer never crashes, hangs or bloats vicish (issue
// 16): each case ends with a clean error and its exit code, within the
// memory limit.
func TestHostilePeer(t *testing.T) {
	big := vicitest.Entry(500 << 10)
	flood := func(event string, m *vici.Message, every time.Duration) func(*vicitest.Conn, string) {
		return func(c *vicitest.Conn, name string) {
			if name == event {
				_ = c.Flood(event, m, every)
			}
		}
	}
	unknownType := func(c *vicitest.Conn, _ *vici.Message) *vici.Message {
		_ = c.WriteRaw(vicitest.RawFrame([]byte{99}))
		return vicitest.NoReply
	}
	small := vici.NewMessage().SetSection("gw", vici.NewMessage().Set("state", "UP"))
	cases := []hostileCase{
		{"endless listing of big entries",
			&vicitest.Daemon{Commands: map[string]vicitest.Handler{"list-sas": vicitest.Endless("list-sa", big)}, Events: []string{"list-sa"}},
			[]string{"--deadline", "120", "-e", "len(vici.list_sas())"}, 1,
			[]string{"vici.list_sas: the listing's first ", "take more memory than its budget of 512 MiB", "pass each=", "--max-listing"}},
		{"endless listing of small entries",
			&vicitest.Daemon{Commands: map[string]vicitest.Handler{"list-sas": vicitest.Endless("list-sa", small)}, Events: []string{"list-sa"}},
			[]string{"--deadline", "120", "-e", "len(vici.list_sas())"}, 1,
			[]string{"vici.list_sas: the listing's first ", "budget of 512 MiB"}},
		{"a raised budget",
			&vicitest.Daemon{Commands: map[string]vicitest.Handler{"list-sas": vicitest.Endless("list-sa", big)}, Events: []string{"list-sa"}},
			[]string{"--max-listing", "64MiB", "-e", "len(vici.list_sas())"}, 1,
			[]string{"budget of 64 MiB"}},
		{"endless listing with each=",
			&vicitest.Daemon{Commands: map[string]vicitest.Handler{"list-sas": vicitest.Endless("list-sa", big)}, Events: []string{"list-sa"}},
			[]string{"--deadline", "3", "-e", "vici.list_sas(each=lambda e: None)"}, 1,
			[]string{"vici.list_sas: ", "within 3s (deadline)"}},
		{"a flood of big events while a callback sleeps",
			&vicitest.Daemon{Events: []string{"ike-updown"}, OnRegister: flood("ike-updown", big, 0)},
			[]string{"-c", `vici.on("ike-updown", lambda n, d: time.sleep(5))
vici.listen(timeout=20)`}, 1,
			[]string{"vici.listen: events from unix://", "arrived faster than the callbacks took them", "budget of 64 MiB (vicish --max-event-queue)"}},
		{"a flood of big events while wait matches none",
			&vicitest.Daemon{Events: []string{"ike-updown"}, OnRegister: flood("ike-updown", big, 0)},
			[]string{"-c", `vici.wait("ike-updown", match=lambda d: False, timeout=15)`}, 1,
			[]string{"vici.wait: events from unix://", "budget of 64 MiB"}},
		{"an unknown packet type where the reply belongs",
			&vicitest.Daemon{Commands: map[string]vicitest.Handler{"stats": unknownType}},
			[]string{"-e", "vici.stats()"}, 3,
			[]string{"vici.stats: ", `packet type 99 where the answer to CMD_REQUEST "stats" belongs`}},
		{"listen's timeout holds while callbacks are busy",
			&vicitest.Daemon{Events: []string{"ike-updown"}, OnRegister: flood("ike-updown", small, 100*time.Millisecond)},
			// a callback starts only before the timeout, and each takes
			// half a second: at most 6 start in 3 seconds
			[]string{"-c", `vici.on("ike-updown", lambda n, d: time.sleep(0.5))
n = vici.listen(timeout=3)
if n > 6:
    fail("listen(timeout=3) ran %d callbacks of 0.5 s" % n)
print("handled", n)`}, 0,
			[]string{"handled "}},
		{"wait's timeout holds while match is busy",
			&vicitest.Daemon{Events: []string{"ike-updown"}, OnRegister: flood("ike-updown", small, 100*time.Millisecond)},
			[]string{"-c", `calls = []
def slow(d):
    calls.append(1)
    time.sleep(0.5)
    return False
print("got", vici.wait("ike-updown", match=slow, timeout=3))
if len(calls) > 6:
    fail("wait(timeout=3) ran match %d times for 0.5 s" % len(calls))`}, 0,
			[]string{"got None"}},
	}
	runHostile(t, cases)
}

// swanctlPeer is a fake daemon that answers the queries of swanctl.apply
// and swanctl.plan with nothing, except command, whose listing never
// ends.
func swanctlPeer(command, event string, entry *vici.Message) *vicitest.Daemon {
	empty := func(*vicitest.Conn, *vici.Message) *vici.Message { return vici.NewMessage() }
	d := &vicitest.Daemon{Commands: map[string]vicitest.Handler{},
		Events: []string{"list-sa", "list-conn", "list-cert", "list-authority"}}
	for _, cmd := range []string{"get-keys", "get-shared", "list-certs", "get-authorities", "list-authorities",
		"get-pools", "get-conns", "list-sas", "list-conns", "load-conn"} {
		d.Commands[cmd] = empty
	}
	d.Commands[command] = vicitest.Endless(event, entry)
	return d
}

// What swanctl.apply and swanctl.plan collect from a daemon is bounded
// by the same budget as the vici module's listings (--max-listing): a
// peer that streams list-conns or list-sas forever gets the budget's
// error, within the memory limit (issue 16).
func TestHostilePeerSwanctl(t *testing.T) {
	dir := t.TempDir()
	conf := "connections {\n gw {\n  remote_addrs = 192.0.2.2\n  local { auth = psk }\n  remote { auth = psk }\n  children { net { remote_ts = 10.2.0.0/16 } }\n }\n}\n"
	if err := os.WriteFile(dir+"/swanctl.conf", []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	big := vicitest.Entry(500 << 10)
	apply := "swanctl.apply(" + strconv.Quote(dir) + ")"
	plan := "print(swanctl.plan(" + strconv.Quote(dir) + ", " + strconv.Quote(dir) + "))"
	cases := []hostileCase{
		{"apply, endless list-conns", swanctlPeer("list-conns", "list-conn", big),
			[]string{"-e", apply}, 1,
			[]string{"swanctl.apply: list-conns: the first ", " list-conn entries (", " kept) are more than the budget of 512 MiB for a listing", "vicish --max-listing"}},
		{"plan, endless list-sas", swanctlPeer("list-sas", "list-sa", big),
			[]string{"-c", plan}, 0,
			[]string{"plan for unix://", ": budget: list-sas: the first ", "budget of 512 MiB"}},
		{"plan, endless list-conns, a lowered budget", swanctlPeer("list-conns", "list-conn", big),
			[]string{"--max-listing", "16MiB", "-c", plan}, 0,
			[]string{": budget: list-conns: the first ", "budget of 16 MiB"}},
	}
	runHostile(t, cases)
}
