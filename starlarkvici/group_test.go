package starlarkvici

import (
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// Many gateways from one script (issue 13): a group runs commands on every
// member at once with errors per member, vici.listen merges the events of
// every session in arrival order, a callback learns the session an event
// came from, and a gateway that goes away does not stall the others. Run
// with -race: the group's goroutines share no Starlark value.
func TestGroupAndMergedListen(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	runGuarded(t, l, Config{}, 3*time.Minute, `
load("assert.star", "assert")

g = vici.group({"a": lab.a.uri, "b": lab.b.uri, "c": lab.c.uri}, reconnect=True)
assert.eq(type(g), "vici.group")
assert.eq(g.names, ["a", "b", "c"])
assert.eq(list(g), ["a", "b", "c"])
assert.eq(len(g), 3)
assert.eq(g["b"].uri, lab.b.uri)
assert.eq(g["b"].name, "b")
assert.true("list_sas" in dir(g) and "on" in dir(g))

# commands run on every member and answer per member
v = g.version()
assert.eq(sorted(v.keys()), ["a", "b", "c"])
for name in v:
    assert.eq(v[name]["daemon"], "charon")
conns = g.get_conns()
assert.eq(sorted(conns["a"]["conns"]), ["backup", "primary"])
assert.eq(conns["b"]["conns"], ["primary"])
assert.eq(conns["c"]["conns"], ["backup"])
listed = g.list_conns()                      # streamed: a list per member
assert.eq(sorted([k for e in listed["a"] for k in e]), ["backup", "primary"])
assert.eq([k for e in listed["c"] for k in e], ["backup"])
assert.eq(g.get_conns(deadline=10)["b"], {"conns": ["primary"]})
# a request error is the same for all and fails the call
assert.fails(lambda: g.list_sas(bogus=1), "vici.group.list_sas: unexpected keyword argument \"bogus\"")
assert.fails(lambda: g.list_sas(each=print), "takes no each= or log= callback")
assert.fails(lambda: vici.group([lab.a.uri]), "vici.group: got list, want a dict {name: URI or session}")
# check=False: the failed reply per member
r = g.initiate(child="nope", ike="nope", check=False, timeout=1)
assert.eq(r["b"]["success"], "no")
# a command failure is that member's alone
r = g.call("unload-conn", name="primary")
assert.eq(r["a"], {"success": "yes"})
assert.true("error" in r["c"] and "primary" in r["c"]["error"], r["c"])
g["a"].load_conn({"primary": {"remote_addrs": "192.0.2.2", "local_addrs": "192.0.2.1",
    "local": {"auth": "psk", "id": "a"}, "remote": {"auth": "psk", "id": "b"},
    "children": {"net": {"local_ts": "10.1.0.0/24", "remote_ts": "10.2.0.0/24"}}}})
g["b"].load_conn({"primary": {"remote_addrs": "192.0.2.1", "local_addrs": "192.0.2.2",
    "local": {"auth": "psk", "id": "b"}, "remote": {"auth": "psk", "id": "a"},
    "children": {"net": {"local_ts": "10.2.0.0/24", "remote_ts": "10.1.0.0/24"}}}})

# an unreachable member is an error value, not a failure for all
mixed = vici.group({"a": lab.a.uri, "gone": "unix:///nonexistent/charon.vici"})
r = mixed.version()
assert.eq(r["a"]["daemon"], "charon")
assert.true("error" in r["gone"] and "/nonexistent/charon.vici" in r["gone"]["error"], r["gone"])
assert.eq(r["gone"]["reason"], "unreachable")

# batch: each member runs the commands in turn, the members at once; a
# member that fails stops there and says which command failed and why
r = mixed.batch(["version", ("get_pools", {"leases": True}), "list_conns"])
assert.eq(list(r["a"].keys()), ["version", "get_pools", "list_conns", "seconds"])
assert.eq(r["a"]["version"]["daemon"], "charon")
assert.eq(r["a"]["get_pools"], {})
assert.eq(sorted([k for e in r["a"]["list_conns"] for k in e]), ["backup", "primary"])
assert.eq(type(r["a"]["seconds"]), "float")
assert.true(r["a"]["seconds"] > 0, r["a"])
assert.eq((r["gone"]["reason"], r["gone"]["command"]), ("unreachable", "version"))
assert.true("/nonexistent/charon.vici" in r["gone"]["error"], r["gone"])
r = mixed.batch(["version", ("initiate", {"child": "nope", "ike": "nope", "timeout": 1})])
assert.eq((r["a"]["reason"], r["a"]["command"]), ("refused", "initiate"))
assert.true("nope" in r["a"]["error"], r["a"])
r = mixed.batch([("initiate", {"child": "nope", "ike": "nope", "timeout": 1, "check": False})])
assert.eq(r["a"]["initiate"]["success"], "no")
hasty = vici.group({"a": lab.a.uri}, deadline="1ns")
r = hasty.batch(["version"])
assert.eq(r["a"]["reason"], "timeout")
hasty.close()
assert.fails(lambda: mixed.batch("version"), "vici.group.batch: got string, want a list of command names")
assert.fails(lambda: mixed.batch([]), "no commands given")
assert.fails(lambda: mixed.batch(["version", "verison"]), "commands\\[1\\]: \"verison\" is not a command of the vici module")
assert.fails(lambda: mixed.batch(["version", "version"]), "command \"version\" is given twice")
assert.fails(lambda: mixed.batch([("list_sas", {"bogus": 1})]), "unexpected keyword argument \"bogus\"")
assert.fails(lambda: mixed.batch([("list_sas", {"each": print})]), "takes no each= or log= callback")
assert.fails(lambda: mixed.batch([("list_sas", 1)]), "the keywords of list_sas must be a dict, got int")
mixed.close()

# merged events: vici.listen serves every session; a callback that
# declares "session" learns where each event came from
seen = []
def updown(name, data, session):
    for ike in data:
        if ike != "up":
            seen.append((session.name, ike, data.get("up", "no")))
assert.eq(g.on("ike-updown", updown), {"a": None, "b": None, "c": None})
g["a"].initiate(child="net", ike="primary")
g["a"].initiate(child="net", ike="backup")
assert.eq(vici.listen(count=4, timeout=60), 4)
assert.eq(sorted(seen), [("a", "backup", "yes"), ("a", "primary", "yes"), ("b", "primary", "yes"), ("c", "backup", "yes")])
assert.eq([s for s in seen if s[0] == "a"], [("a", "primary", "yes"), ("a", "backup", "yes")])  # per gateway: daemon order

# g.wait: the first matching event of any member, with its name
g["a"].terminate(ike="backup")
name, data = g.wait("ike-updown", match=lambda d: "backup" in d, timeout=60)
assert.true(name in ("a", "c"), name)
seen.clear()
assert.eq(g.listen(count=2, timeout=60), 2)  # the down events are still there for callbacks
assert.eq(sorted(seen), [("a", "backup", "no"), ("c", "backup", "no")])

# a gateway that goes away does not stall the others
seen.clear()
notes = []
g["c"].on("reconnect", lambda name, data, session: notes.append((session.name, len(session.list_sas()))))
kill_gateway("c")
g["a"].terminate(ike="primary")
assert.eq(vici.listen(count=2, timeout=60), 2)
assert.eq(sorted(seen), [("a", "primary", "no"), ("b", "primary", "no")])
restart_gateway("c")
assert.eq(vici.listen(count=1, timeout=60), 1)
assert.eq(notes, [("c", 0)])   # the callback's command worked at once
g.close()

# without reconnect=True a lost gateway ends a plain listen, but a merged
# listen with keep_going=True reports it and goes on with the others
pa = vici.connect(lab.a.uri, name="pa")
pc = vici.connect(lab.c.uri, name="pc")
seen.clear()
pa.on("ike-updown", updown)
pc.on("ike-updown", updown)
kill_gateway("c")
pa.initiate(child="net", ike="primary")
assert.eq(vici.listen(count=1, timeout=60, keep_going=True), 1)
assert.eq(seen, [("pa", "primary", "yes")])
assert.true("lost the event connection to " + lab.c.uri in stderr_text(), stderr_text())
restart_gateway("c")
pa.close()
pc.close()

# a reconnect=True group watches a member that is down at the start: g.on
# says so, and its events flow from when it comes up, after a reconnect
kill_gateway("c")
late = vici.group({"a": lab.a.uri, "c": lab.c.uri}, reconnect=True)
seen.clear()
r = late.on("ike-updown", updown)
assert.eq(r["a"], None)
assert.true("watching it from when it comes up" in r["c"]["error"], r["c"])
notes.clear()
late.on("reconnect", lambda name, data, session: notes.append((session.name, len(session.list_conns()))))
restart_gateway("c")
assert.eq(late.listen(count=1, timeout=60), 1)
assert.eq(notes, [("c", 1)])               # up, and its commands work
late["a"].initiate(child="net", ike="backup")
assert.eq(late.listen(count=2, timeout=60), 2)
assert.eq(sorted(seen), [("a", "backup", "yes"), ("c", "backup", "yes")])
late.close()
`)
}
