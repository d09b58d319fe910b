package exec

import "github.com/vicish/vicish/stdlib/doc"

// Doc describes the module for help().
func Doc() doc.Module {
	return doc.Module{
		Name:    "exec",
		Summary: "run(argv, timeout=, stdin=, env=): run a local program (needs --allow-exec)",
		Builtins: []doc.Builtin{
			doc.Fn("run", "argv, timeout=None, stdin=None, env=None",
				"Run argv (a list: program and arguments, no shell) and return struct(code, stdout, stderr); a non-zero code is not an error. Needs --allow-exec."),
		},
	}
}
