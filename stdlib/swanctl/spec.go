package swanctl

import (
	"context"
	"io"

	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/vici"
)

// Spec is the module's table for a module whose apply talks to the client
// that client gives, prints its report to stdout, and tells seen each
// secret it reads (see NewModule).
func Spec(client func(ctx context.Context) (*vici.Client, error), stdout io.Writer, seen func(secret string)) registry.Module {
	m := &module{client: client, stdout: stdout, seen: seen}
	return registry.Module{
		Name:    "swanctl",
		Summary: "load_conf(path), apply(path, dry_run=False): swanctl.conf into the daemon, with a change report",
		Builtins: []registry.Builtin{
			{Name: "load_conf", Params: registry.MustParams(`path=$SWANCTL_DIR or "/etc/swanctl"`), Fn: m.loadConf,
				Doc: "Read a swanctl.conf (or the directory holding one) and its credentials as swanctl does; return {connections, secrets, certs, keys, authorities, pools, ...}, each the request bodies of the load commands."},
			{Name: "apply", Params: registry.MustParams(`path=$SWANCTL_DIR or "/etc/swanctl", dry_run=False`), Fn: m.apply,
				Doc: "Load that configuration into the daemon as swanctl --load-all does, unloading what it no longer has; return a report of what changed (dry_run=True changes nothing)."},
			{Name: "secret.reveal",
				Doc: "The bytes of a swanctl.secret value (secrets print as <secret>)."},
		},
	}
}
