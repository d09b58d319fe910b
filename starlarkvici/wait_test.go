package starlarkvici

import (
	"context"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// Module-level vici.wait over every session the script opened (issue 13):
// the earliest matching event of any session, nothing lost or taken from
// the callbacks, (session, data) on request, and a gateway that is gone
// or reconnecting does not stall the others. s.wait stays on s. Run with
// -race: sessions register concurrently.
func TestMergedWait(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range []string{"a", "b"} {
				tail := l.Gateway(n).LogTail(60)
				t.Logf("%s log:\n%s", n, tail)
			}
		}
	})

	// A script that talks only to vici.connect() sessions needs no daemon
	// at the default socket: the unused default session is left out.
	t.Run("default session unused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		stderr := &syncBuffer{}
		mod := NewModule(Config{URI: "unix:///nonexistent/charon.vici", Stderr: stderr})
		defer mod.Close()
		err := runWith(t, l, mod, stderr, "unused.star", `
load("assert.star", "assert")
pb = vici.connect(lab.b.uri, name="b")
when_registered("ike-updown", lab.a.uri, "initiate", {"child": "net", "ike": "primary"}, pb)
d = vici.wait("ike-updown", match=lambda d: d.get("up") == "yes", timeout=60)
assert.true("primary" in d, d)
assert.eq(stderr_text(), "")
pb.terminate(ike="primary")
`, ctx)
		if err != nil {
			t.Fatal(err)
		}
		if mod.def.used() {
			t.Fatal("vici.wait dialled the unused default session")
		}
	})

	runGuarded(t, l, Config{}, 3*time.Minute, `
load("assert.star", "assert")
pb = vici.connect(lab.b.uri, name="b")
pc = vici.connect(lab.c.uri, name="c")
seen = []
def note(name, data, session):
    for ike in data:
        if ike != "up":
            seen.append((session.name, ike, data.get("up", "no")))
pb.on("ike-updown", note)
pc.on("ike-updown", note)

# events queued for callbacks: wait takes the earliest of any session,
# each once, and leaves them to the callbacks, in order
pb.initiate(child="net", ike="primary")
until_queued(pb, 1)  # b's daemon sends its event after initiate's reply
pc.initiate(child="net", ike="backup")
s, data = vici.wait("ike-updown", session=True, timeout=30)
assert.eq(s, pb)
assert.true("primary" in data, data)
s, data = vici.wait("ike-updown", session=True, timeout=30)
assert.eq(s, pc)
assert.eq((s.name, s.uri), ("c", lab.c.uri))
assert.true("backup" in data, data)
assert.eq(vici.wait("ike-updown", timeout=0.2), None)
assert.eq(vici.listen(count=2, timeout=30), 2)
assert.eq(seen, [("b", "primary", "yes"), ("c", "backup", "yes")])

# without session=True the data alone, as ever; match skips b's event
pb.terminate(ike="primary")
until_queued(pb, 1)
pc.terminate(ike="backup")
d = vici.wait("ike-updown", match=lambda d: "backup" in d, timeout=30)
assert.eq(type(d), "dict")
assert.true("backup" in d and "up" not in d, d)
seen.clear()
assert.eq(vici.listen(count=2, timeout=30), 2)
assert.eq(seen, [("b", "primary", "no"), ("c", "backup", "no")])

# wait registers by itself on a session that has no callback for the event
when_registered("child-updown", lab.a.uri, "initiate", {"child": "net", "ike": "backup"}, pc)
s, d = vici.wait("child-updown", match=lambda d: d.get("up") == "yes", session=True, timeout=60)
assert.eq(s, pc)
assert.true("backup" in d, d)
# s.wait stays on s: b has nothing, though c has its down event queued
pb.on("child-updown", note)
pc.on("child-updown", note)
pc.terminate(ike="backup")
assert.eq(pb.wait("child-updown", timeout=0.3), None)
assert.true("backup" in pc.wait("child-updown", timeout=30))

# once used, the default session (gateway a) is waited on too, and a
# session= value of the default session has .name and .uri
assert.eq(vici.version()["daemon"], "charon")
vici.on("child-updown", note)
pb.initiate(child="net", ike="primary")
got = [vici.wait("child-updown", match=lambda d: d.get("up") == "yes", session=True, timeout=30)[0].uri for _ in range(2)]
assert.eq(sorted(got), sorted([lab.a.uri, lab.b.uri]))
seen.clear()
# since the last listen: on c the IKE up for backup, the CHILD and IKE
# down; on b the IKE and CHILD up, on a the CHILD up (a's name is its URI)
assert.eq(vici.listen(count=6, timeout=30), 6)
assert.eq(sorted(seen), sorted([("c", "backup", "yes"), ("c", "backup", "no"), ("c", "backup", "no"),
                                ("b", "primary", "yes"), ("b", "primary", "yes"), (lab.a.uri, "primary", "yes")]))
vici.off("child-updown")
pb.off("child-updown")
pc.off("child-updown")
# terminated from a, which returns once a's IKE_SA is gone (b's down event
# says nothing about a, which initiates primary again below)
vici.terminate(ike="primary")
assert.eq(vici.listen(count=1, timeout=30), 1)   # b's IKE_SA down
seen.clear()

# a group's wait gives names, not sessions
assert.fails(lambda: vici.group({"b": pb}).wait("ike-updown", session=True), "returns \\(name, data\\) already")
closed = vici.group({"b": lab.b.uri})
closed.close()
assert.fails(lambda: closed.wait("ike-updown", timeout=1), "vici.group.wait: every session is closed")

# a gateway that is gone does not stall the others: c's event connection
# is lost (pc has no reconnect=True); pr, made with reconnect=True, is
# down when the wait registers, so it is watched. when_registered starts
# the IKE_SA only once pr is watched and the default session (a) has
# registered: its registration is a round trip, pr's is not.
pr = vici.connect(lab.c.uri, reconnect=True, name="r")
kill_gateway("c")
when_registered("ike-updown", lab.a.uri, "initiate", {"child": "net", "ike": "primary"}, [None, pr])
# a's own up event: b's comes first (a responder is up once it has sent
# IKE_AUTH), and terminating on a before a has read that answer destroys
# a's IKE_SA while it is still CONNECTING
d = vici.wait("ike-updown", match=lambda d: d.get("up") == "yes" and d.get("primary", {}).get("local-id") == "a", timeout=60)
assert.true("primary" in d, d)
assert.true("watching it from when it comes up (reconnect=True)" in stderr_text(), stderr_text())
assert.eq(vici.listen(count=1, timeout=30), 1)   # b's up, still there for its callback
assert.eq(seen, [("b", "primary", "yes")])
vici.terminate(ike="primary")
assert.eq(vici.wait("ike-updown", match=lambda d: "up" not in d, timeout=60)["primary"]["state"], "DELETING")
assert.true("lost the event connection to " + lab.c.uri in stderr_text(), stderr_text())
assert.true("waiting goes on with the other sessions" in stderr_text(), stderr_text())
# alone, a session whose daemon is gone fails the wait, as before
assert.fails(lambda: pc.wait("ike-updown", timeout=5), lab.c.uri)
# the watched session says when c is back (a reconnect notice goes to a
# session that has a registration)
pr.on("ike-updown", note)
restart_gateway("c")
s, d = vici.wait("reconnect", session=True, timeout=60)
assert.eq((s, d), (pr, {"uri": lab.c.uri}))
`)
}

// listen(timeout=0) handles the events already queued and returns at once:
// a long-running script that also serves requests takes its events that
// way between two requests. Events arriving after the timeout passed are
// left for the next listen.
func TestListenTimeoutZero(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	runGuarded(t, l, Config{}, time.Minute, `
load("assert.star", "assert")
seen = []
vici.on("ike-updown", lambda name, data: seen.append(data.get("up", "no")))
assert.eq(vici.listen(timeout=0), 0)                  # nothing queued
s2 = vici.connect()
s2.initiate(child="net", ike="ab")
assert.true(vici.wait("ike-updown", timeout=30) != None)  # queued now, still for the callback
assert.eq(vici.listen(timeout=0), 1)
assert.eq(seen, ["yes"])
s2.terminate(ike="ab")
assert.true(vici.wait("ike-updown", timeout=30) != None)
assert.eq(vici.wait("ike-updown", timeout=0), None)   # that one was looked at by a wait already
assert.eq(vici.listen(timeout=0), 1)
assert.eq(seen, ["yes", "no"])
`)
}
