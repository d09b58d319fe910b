package swanctl

import "github.com/vicish/vicish/registry"

// Spec is the module's table for the module NewModule returns.
func Spec(cfg Config) registry.Module {
	m := &module{cfg: cfg}
	return registry.Module{
		Name:    "swanctl",
		Summary: "load_conf(path), apply(path, dry_run=False, target=None), plan(conf, previous, target=None): swanctl.conf into daemons, with a change report, a plan of what it does to live SAs, proof and rollback",
		Builtins: []registry.Builtin{
			{Name: "load_conf", Params: registry.MustParams(`path=$SWANCTL_DIR or "/etc/swanctl"`), Fn: m.loadConf,
				Doc: "Read a swanctl.conf (or the directory holding one) and its credentials as swanctl does; return {connections, secrets, certs, keys, authorities, pools, ...}, each the request bodies of the load commands."},
			{Name: "apply", Params: registry.MustParams(`path=$SWANCTL_DIR or "/etc/swanctl", dry_run=False, target=None`), Fn: m.apply,
				Doc: "Load that configuration into the daemon (target: a vici.connect session or a group member; None: the default session) as swanctl --load-all does, unloading what it no longer has; return a report of what changed (dry_run=True changes nothing)."},
			{Name: "plan", Params: registry.MustParams(`conf, previous, target=None`), Fn: m.plan,
				Doc: "Plan applying conf over previous (the files of what the daemon has now): changed items and keys, drift between previous and the daemon, and what charon would do to every live SA (untouched, torn down, left on the old configuration and how to prove the new one). For a vici.group target conf and previous are dicts {member: path}. Prints as text; p[name] is a member's plan as a dict."},
			{Name: "plan.apply", Params: registry.MustParams(`prove=None`),
				Doc: "Apply the plan on every member at once; with prove=SECS prove it in that time (fresh SAs where charon kept old ones, which are then closed); return {member: {ok, applied, error, reason, report, proof, seconds}}."},
			{Name: "plan.rollback", Params: registry.MustParams(`prove=None`),
				Doc: "Load the previous configuration again on every member apply reached, and prove it the same way; same result as apply."},
			{Name: "secret.reveal",
				Doc: "The bytes of a swanctl.secret value (secrets print as <secret>)."},
		},
	}
}
