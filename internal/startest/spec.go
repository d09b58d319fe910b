package startest

import "github.com/vicish/vicish/registry"

// Spec is what test files have besides vicish's globals, one row a
// builtin: the assert and fake modules, run, start, skip and tempdir.
func Spec() registry.Registry {
	p := registry.MustParams
	return registry.Registry{
		Globals: []registry.Builtin{
			{Name: "run", Params: p("path, args=[], uri=None, allow=[], env={}"), Fn: runBuiltin,
				Doc: "Run the script at path (relative to this file) as vicish would, with sys.argv [path] + args, and return its result:\n" +
					".code (the exit code), .output (standard output), .stderr and .requests (each command it sent, in order: .command, .args, .uri).\n" +
					"Its vici reaches the test's fake daemons (uri: the default one's URI unless given); allow grants capabilities\n" +
					"(\"exec\", \"net\", \"write\", ..., as --allow-exec ... grant them); env is its whole environment."},
			{Name: "start", Params: p("path, args=[], uri=None, allow=[], env={}"), Fn: startBuiltin,
				Doc: "Start the script as run does and return it running: p.next_line(stderr=False) waits for its next line of output\n" +
					"(None once it has ended), p.stop() ends it as SIGTERM does (exit 143), p.interrupt() as Ctrl-C (130), p.wait() waits;\n" +
					"those three return the result as run does. A test that ends stops what it started."},
			{Name: "lab", Params: p("topology=2, daemon=None, config={}"), Fn: labBuiltin,
				Doc: "Real charon daemons for the rest of the test (the lab tier; needs root), stopped when it ends, failed or not.\n" +
					"topology: 1, 2, 3 (failover) or \"star\"; daemon: \"system\" or \"newest\" (None: $VICISH_LAB_DAEMON, else system);\n" +
					"config maps a gateway's name to a swanctl.conf of yours, loaded instead of the lab's. Returns .gateways\n" +
					"(by name: .uri, .addr, .version, .daemon, .kill(), .restart(), .swanctl(*args)) and .dir; run(..., uri=g.uri)\n" +
					"and vici.connect(g.uri) reach the real daemon. Without root the test is skipped (failed when $CI is true)."},
			{Name: "skip", Params: p("reason"), Fn: skipBuiltin,
				Doc: "End the test as skipped, saying why."},
			{Name: "tempdir", Params: p(""), Fn: tempdirBuiltin,
				Doc: "A directory of the test's own (the same for every call), removed when the test ends."},
		},
		Modules: []registry.Module{
			{
				Name:    "assert",
				Summary: "eq, ne, true, false, lt, contains, fails: starlarktest's assertions; a failure names the line and the test goes on",
				Builtins: []registry.Builtin{
					{Name: "eq", Params: p("x, y, msg=None"), Fn: comparison("x", "y", equal, "%s != %s"), Doc: "Fail unless x == y."},
					{Name: "ne", Params: p("x, y, msg=None"), Fn: comparison("x", "y", notEqual, "%s == %s"), Doc: "Fail unless x != y."},
					{Name: "true", Params: p("cond, msg=None"), Fn: truth(true), Doc: "Fail unless cond is true."},
					{Name: "false", Params: p("cond, msg=None"), Fn: truth(false), Doc: "Fail unless cond is false."},
					{Name: "lt", Params: p("x, y, msg=None"), Fn: comparison("x", "y", less, "%s is not less than %s"), Doc: "Fail unless x < y."},
					{Name: "contains", Params: p("container, x, msg=None"), Fn: comparison("container", "x", contains, "%s does not contain %s"), Doc: "Fail unless x in container."},
					{Name: "fails", Params: p("fn, pattern, msg=None"), Fn: assertFails,
						Doc: "Call fn(); fail unless it fails with an error whose message matches the regular expression pattern."},
				},
			},
			{
				Name:    "fake",
				Summary: "daemon(uri=None): fake charon daemons a runbook under test reaches by URI",
				Builtins: []registry.Builtin{
					{Name: "daemon", Params: p("uri=None"), Fn: fakeDaemon,
						Doc: "The fake daemon behind uri (made on first use); without uri the default one, which vici reaches.\n" +
							"It answers version and every listing (empty) until told otherwise, refuses registrations of events\n" +
							"charon does not raise, and records every command: d.requests."},
					{Name: "daemon.reply", Params: p("command, reply, *more"),
						Doc: "Answer command (list_sas or list-sas) with reply, then more[0], ..., the last repeating: a dict, a list of\n" +
							"entries (a listing), None, or a function of the request's dict returning one (it may d.emit first)."},
					{Name: "daemon.replay", Params: p("path, uri=None"),
						Doc: "Answer as the daemon at uri did in the recording at path (vicish --record FILE ...; without uri its one daemon):\n" +
							"each command with a recorded exchange (the same request first, else the next; the last repeats), the events\n" +
							"that came after it raised first. Replies given with d.reply win."},
					{Name: "daemon.emit", Params: p("event, data={}"),
						Doc: "Raise event with data: to every connection registered for it, else to the first that registers."},
					{Name: "daemon.stop", Params: p(""), Doc: "Close every connection and refuse new ones, as a charon that stops."},
					{Name: "daemon.start", Params: p(""), Doc: "Take connections again after stop."},
				},
			},
		},
	}
}
