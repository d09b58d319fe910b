package exec

import (
	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/registry"
)

// Spec is the module's table: exec.run and exec.start, which need
// capability.Exec.
func Spec() registry.Module {
	return registry.Module{
		Name:    "exec",
		Summary: "run(argv, timeout=, stdin=, env=): run a local program; start(...) runs it in the background",
		Builtins: []registry.Builtin{
			{Name: "run", Params: registry.MustParams("argv, timeout=None, stdin=None, env=None"), Fn: runBuiltin, Needs: capability.Exec,
				Doc: "Run argv (a list: program and arguments, no shell) and return struct(code, stdout, stderr); a non-zero code is not an error."},
			{Name: "start", Params: registry.MustParams("argv, timeout=None, stdin=None, env=None"), Fn: startBuiltin, Needs: capability.Exec,
				Doc: "Start argv in the background and return an exec.process: .pid, .poll() (None while it runs, then the result run would give), .wait(timeout=None) (the result, or None when timeout passes first), .kill(). timeout, or the end of the script, kills it (code 128 + 9)."},
		},
	}
}
