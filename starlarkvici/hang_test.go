package starlarkvici

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"go.starlark.net/starlark"
)

// runGuarded runs src against gateway "a" of l and fails the test if it
// is still running after guard: the script would have hung.
func runGuarded(t *testing.T, l *lab.Lab, cfg Config, guard time.Duration, src string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	stderr := &syncBuffer{}
	cfg.URI, cfg.Stderr = l.Gateway("a").URI, stderr
	mod := NewModule(cfg)
	defer mod.Close()
	err := runWith(t, l, mod, stderr, t.Name()+".star", src, ctx)
	if ctx.Err() != nil {
		t.Fatalf("the script hung: still running after %v (%v)", guard, err)
	}
	if err != nil {
		if evalErr, ok := err.(*starlark.EvalError); ok {
			t.Fatal(evalErr.Backtrace())
		}
		t.Fatal(err)
	}
}

// Issue 9: registering an event (wait, or on() inside a callback) while
// more events of an already registered one are queued than the engine's
// channel holds deadlocked the session: the script waited for the
// registration's answer, the engine's reader for the script to take an
// event.
func TestHooksNeverHang(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	// fill makes the default session queue more than 256 log events,
	// through a second session's initiate/terminate cycles.
	const fill = `
load("assert.star", "assert")
s2 = vici.connect()
vici.on("log", lambda n, d: None)
for i in range(60):
    s2.initiate(child="net", ike="ab")
    s2.terminate(ike="ab")
    if queued() > 300:
        break
assert.true(queued() > 300, "only %d log events queued" % queued())
`
	t.Run("wait", func(t *testing.T) {
		runGuarded(t, l, Config{}, 60*time.Second, fill+`
q = queued()
assert.eq(vici.wait("ike-updown", timeout=3), None)
# the log events queued meanwhile are all still there, in order
assert.true(vici.listen(timeout=1) >= q)
`)
	})
	t.Run("on inside a callback", func(t *testing.T) {
		runGuarded(t, l, Config{}, 60*time.Second, fill+`
ups = []
def first(name, data):
    vici.off("log")
    vici.on("ike-updown", lambda n, d: ups.append(d.get("up")))  # registers while the queue is full
    vici.stop()
vici.off("log")
vici.on("log", first)
assert.eq(vici.listen(), 1)
s2.initiate(child="net", ike="ab")
assert.eq(vici.listen(count=1, timeout=30), 1)
assert.eq(ups, ["yes"])
s2.terminate(ike="ab")
`)
	})
	t.Run("wait against a stopped daemon", func(t *testing.T) {
		// The registration round trip itself cannot complete: wait's
		// timeout still ends it.
		runGuarded(t, l, Config{}, 60*time.Second, `
load("assert.star", "assert")
vici.on("log", lambda n, d: None)
stop_gateway("a")
assert.eq(vici.wait("ike-updown", timeout=1), None)
cont_gateway("a")
`)
	})
	t.Run("on and off against a stopped daemon", func(t *testing.T) {
		// on() registers within the session's deadline (--deadline);
		// off() never waits for the daemon.
		runGuarded(t, l, Config{Deadline: time.Second}, 60*time.Second, `
load("assert.star", "assert")
vici.on("log", lambda n, d: None)
stop_gateway("a")
assert.fails(lambda: vici.on("ike-updown", print), "vici.on: no reply from the daemon within 1s")
vici.off("log")
assert.eq(vici.listen(timeout=0.1), 0)
cont_gateway("a")
`)
	})
}

// Issue 9: the reconnect notice reached callbacks before the session's
// commands worked again (its command connection could still be waiting
// out its backoff), so a callback resyncing with list_sas failed with
// "not connected ...; reconnecting" in some SIGKILL/restart cycles.
func TestReconnectNoticeWhenCommandsWork(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	runGuarded(t, l, Config{}, 3*time.Minute, `
load("assert.star", "assert")
auto = vici.connect(lab.b.uri, reconnect=True)
got = []
def resync(name, data, session):
    got.append(len(session.list_sas()))
auto.on("reconnect", resync)
auto.on("ike-updown", lambda n, d: None)
for i in range(8):
    kill_gateway("b")
    restart_gateway("b")
    assert.eq(auto.listen(count=1, timeout=60), 1)
assert.eq(got, [0] * 8)
`)
}

// Issue 9: swanctl.apply shared the default session's command connection,
// so inside an each= callback it waited for the stream that waited for
// it; and --deadline did not bound it, so a stopped daemon hung it.
func TestSwanctlOnTheDefaultSession(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	conf := filepath.Join(t.TempDir(), "swanctl.conf")
	if err := os.WriteFile(conf, []byte(`connections {
  t1 {
    remote_addrs = 192.0.2.77
    local {
      auth = psk
    }
    remote {
      auth = psk
    }
  }
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("inside each", func(t *testing.T) {
		runGuarded(t, l, Config{}, 60*time.Second, `
load("assert.star", "assert")
reports = []
vici.list_conns(each=lambda e: reports.append(swanctl.apply(`+strconv.Quote(conf)+`, dry_run=True)))
assert.eq(len(reports), 1)
assert.eq(reports[0]["added"], ["conn t1"])
`)
	})
	t.Run("deadline with a stopped daemon", func(t *testing.T) {
		runGuarded(t, l, Config{Deadline: 2 * time.Second}, 60*time.Second, `
load("assert.star", "assert")
assert.eq(vici.version()["daemon"], "charon")
stop_gateway("a")
assert.fails(lambda: swanctl.apply(`+strconv.Quote(conf)+`, dry_run=True), "deadline exceeded")
cont_gateway("a")
`)
	})
}
