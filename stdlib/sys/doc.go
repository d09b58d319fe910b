package sys

import "github.com/vicish/vicish/stdlib/doc"

// Doc describes the module for help().
func Doc() doc.Module {
	return doc.Module{
		Name:    "sys",
		Summary: "argv, env(name, default=None), exit(code or message)",
		Builtins: []doc.Builtin{
			doc.Fn("env", "name, default=None", "The environment variable name, or default when it is unset or empty."),
			doc.Fn("exit", "code=0", "Stop the script with exit code code (0..255); exit(\"message\") prints message and exits with 1."),
		},
		More: "sys.argv is the list of the script's arguments; argv[0] is the script.",
	}
}
