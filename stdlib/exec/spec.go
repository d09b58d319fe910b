package exec

import (
	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/registry"
)

// Spec is the module's table: exec.run, which needs capability.Exec.
func Spec() registry.Module {
	return registry.Module{
		Name:    "exec",
		Summary: "run(argv, timeout=, stdin=, env=): run a local program",
		Builtins: []registry.Builtin{
			{Name: "run", Params: registry.MustParams("argv, timeout=None, stdin=None, env=None"), Fn: runBuiltin, Needs: capability.Exec,
				Doc: "Run argv (a list: program and arguments, no shell) and return struct(code, stdout, stderr); a non-zero code is not an error."},
		},
	}
}
