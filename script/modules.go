package script

import (
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/stdlib/doc"
	"github.com/vicish/vicish/stdlib/exec"
	"github.com/vicish/vicish/stdlib/file"
	"github.com/vicish/vicish/stdlib/http"
	"github.com/vicish/vicish/stdlib/json"
	"github.com/vicish/vicish/stdlib/log"
	"github.com/vicish/vicish/stdlib/swanctl"
	"github.com/vicish/vicish/stdlib/sys"
	"github.com/vicish/vicish/stdlib/table"
	"github.com/vicish/vicish/stdlib/time"
	"github.com/vicish/vicish/stdlib/x509"
)

// assemble builds the predeclared globals: the vici module, the standard
// library modules, and the runtime's own builtins.
func (r *Runtime) assemble() starlark.StringDict {
	o := r.opts
	return starlark.StringDict{
		"vici":    r.vici,
		"json":    r.learning(json.Module),
		"time":    time.NewModule(),
		"log":     r.learning(log.NewModule(r.stderr, o.LogJSON)),
		"sys":     sys.NewModule(o.Argv, o.Getenv),
		"exec":    exec.NewModule(r.gate),
		"http":    http.NewModule(r.gate),
		"file":    file.NewModule(r.gate),
		"table":   table.NewModule(r.vici),
		"swanctl": swanctl.NewModule(r.vici.Client, r.stdout, r.secrets.Add),
		"x509":    x509.NewModule(),
		"struct":  starlark.NewBuiltin("struct", starlarkstruct.Make),
		"help":    starlark.NewBuiltin("help", r.help),
		"exit":    sys.Exit,
		"quit":    sys.Exit,
		"pp":      starlark.NewBuiltin("pp", r.pp),
		"print":   starlark.NewBuiltin("print", r.print),
		"str":     r.learningBuiltin(starlark.Universe["str"].(*starlark.Builtin)),
		"repr":    r.learningBuiltin(starlark.Universe["repr"].(*starlark.Builtin)),
	}
}

// moduleDocs are the help texts of the standard library modules that
// assemble predeclares, each declared next to its builtins.
func moduleDocs() []doc.Module {
	return []doc.Module{json.Doc(), time.Doc(), log.Doc(), sys.Doc(), exec.Doc(), http.Doc(),
		file.Doc(), table.Doc(), swanctl.Doc(), x509.Doc()}
}

// learning returns module m with each builtin wrapped by learningBuiltin.
func (r *Runtime) learning(m *starlarkstruct.Module) *starlarkstruct.Module {
	members := make(starlark.StringDict, len(m.Members))
	for name, v := range m.Members {
		if b, ok := v.(*starlark.Builtin); ok {
			v = r.learningBuiltin(b)
		}
		members[name] = v
	}
	return &starlarkstruct.Module{Name: m.Name, Members: members}
}

// learningBuiltin returns b wrapped so that the runtime learns the secrets
// among its arguments first and those in its result: the builtins that
// encode or format values (json.encode({"psk": k}), str(d), repr(d),
// log.warn("x", psk=k)) and json.decode, whose dicts may hold secrets.
func (r *Runtime) learningBuiltin(b *starlark.Builtin) *starlark.Builtin {
	return starlark.NewBuiltin(b.Name(), func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		r.secrets.LearnArgs(b.Name(), args, kwargs)
		v, err := b.CallInternal(thread, args, kwargs)
		if err == nil {
			r.secrets.Learn(v)
		}
		return v, err
	})
}
