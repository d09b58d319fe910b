package sys

import (
	"go.starlark.net/starlark"

	"github.com/vicish/vicish/registry"
)

// Spec is the module's table for a module whose argv is a frozen copy of
// argv and whose env reads variables through getenv (see NewModule).
func Spec(argv []string, getenv func(string) string) registry.Module {
	list := make([]starlark.Value, len(argv))
	for i, a := range argv {
		list[i] = starlark.String(a)
	}
	args := starlark.NewList(list)
	args.Freeze()
	env := func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		var def starlark.Value = starlark.None
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &def); err != nil {
			return nil, err
		}
		if getenv != nil {
			if v := getenv(name); v != "" {
				return starlark.String(v), nil
			}
		}
		return def, nil
	}
	return registry.Module{
		Name:    "sys",
		Summary: "argv, env(name, default=None), exit(code or message), guard(fn, cleanup)",
		Builtins: []registry.Builtin{
			{Name: "env", Params: registry.MustParams("name, default=None"), Fn: env,
				Doc: "The environment variable name, or default when it is unset or empty."},
			{Name: "exit", Params: registry.MustParams("code=0"), Fn: Exit,
				Doc: "Stop the script with exit code code (0..255); exit(\"message\") prints message and exits with 1."},
			{Name: "guard", Params: registry.MustParams("fn, cleanup, grace=30"), Fn: Guard,
				Doc: "Call fn() and return its value. If it fails (an error, a command past its deadline) or the script is stopped meanwhile (Ctrl-C, SIGTERM), " +
					"call cleanup() first and then fail the same way: cleanup runs even though the script was stopped, for at most " +
					"grace seconds, and vicish waits for it that long before exiting (a second signal ends it at once). " +
					"Not after fn() returns, nor after exit(). A cleanup with a parameter named reason gets why: \"interrupted\", " +
					"\"terminated\" or fn's error message."},
		},
		Values: starlark.StringDict{"argv": args},
		More:   "sys.argv is the list of the script's arguments; argv[0] is the script.",
	}
}
