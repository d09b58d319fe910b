package swanctl

import "github.com/vicish/vicish/stdlib/doc"

// Doc describes the module for help().
func Doc() doc.Module {
	return doc.Module{
		Name:    "swanctl",
		Summary: "load_conf(path), apply(path, dry_run=False): swanctl.conf into the daemon, with a change report",
		Builtins: []doc.Builtin{
			doc.Fn("load_conf", "path=$SWANCTL_DIR or \"/etc/swanctl\"",
				"Read a swanctl.conf (or the directory holding one) and its credentials as swanctl does; return {connections, secrets, certs, keys, authorities, pools, ...}, each the request bodies of the load commands."),
			doc.Fn("apply", "path=$SWANCTL_DIR or \"/etc/swanctl\", dry_run=False",
				"Load that configuration into the daemon as swanctl --load-all does, unloading what it no longer has; return a report of what changed (dry_run=True changes nothing)."),
			doc.Fn("secret.reveal", "", "The bytes of a swanctl.secret value (secrets print as <secret>)."),
		},
	}
}
