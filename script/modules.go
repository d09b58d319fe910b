package script

import (
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/registry"
	"github.com/vicish/vicish/starlarkvici"
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

// newRegistry returns the runtime's table of builtins: its own globals,
// the vici module and the standard library modules, one row per builtin.
// assemble registers them from it; help(), completion, vicish check and
// the reference read it.
func (r *Runtime) newRegistry() *registry.Registry {
	o := r.opts
	reg := &registry.Registry{
		Globals: r.globals(),
		Modules: []registry.Module{
			starlarkvici.Spec(),
			json.Spec(),
			time.Spec(),
			log.Spec(r.stderr, o.LogJSON),
			sys.Spec(o.Argv, o.Getenv),
			exec.Spec(),
			http.Spec(r.servers),
			file.Spec(),
			table.Spec(r.vici),
			swanctl.Spec(swanctl.Config{Client: r.vici.Client, Stdout: r.stdout, Seen: r.secrets.Add, MaxListing: r.vici.MaxListing()}),
			x509.Spec(),
		},
	}
	reg.Globals = append(reg.Globals, o.Extra.Globals...)
	reg.Modules = append(reg.Modules, o.Extra.Modules...)
	return reg
}

// Registry returns the runtime's table of builtins: every predeclared
// function and module, each builtin's parameters, doc and the capability
// it needs. Values added through Options.Predeclared are not in it.
func (r *Runtime) Registry() *registry.Registry { return r.reg }

// assemble builds the predeclared globals from the registry: the vici
// module, the standard library modules (gated builtins behind the
// runtime's gate) and the runtime's own builtins.
func (r *Runtime) assemble() starlark.StringDict {
	d := starlark.StringDict{}
	for _, m := range r.reg.Modules {
		switch m.Name {
		case "vici":
			d[m.Name] = r.vici
		case "json", "log":
			d[m.Name] = r.learning(m.Build(r.gate))
		default:
			d[m.Name] = m.Build(r.gate)
		}
	}
	for name, v := range (registry.Module{Builtins: r.reg.Globals}).Build(r.gate).Members {
		d[name] = v
	}
	return d
}

// learning returns module m with each builtin's function wrapped by
// learned.
func (r *Runtime) learning(m *starlarkstruct.Module) *starlarkstruct.Module {
	members := make(starlark.StringDict, len(m.Members))
	for name, v := range m.Members {
		if b, ok := v.(*starlark.Builtin); ok {
			v = starlark.NewBuiltin(b.Name(), r.learned(b))
		}
		members[name] = v
	}
	return &starlarkstruct.Module{Name: m.Name, Members: members}
}

// learned returns the function of b wrapped so that the runtime learns
// the secrets among its arguments first and those in its result: the
// builtins that encode or format values (json.encode({"psk": k}), str(d),
// repr(d), log.warn("x", psk=k)) and json.decode, whose dicts may hold
// secrets.
func (r *Runtime) learned(b *starlark.Builtin) registry.Func {
	return func(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		r.secrets.LearnArgs(b.Name(), args, kwargs)
		v, err := b.CallInternal(thread, args, kwargs)
		if err == nil {
			r.secrets.Learn(v)
		}
		return v, err
	}
}
