package script

import (
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/stdlib/exec"
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
		"json":    json.Module,
		"time":    time.NewModule(),
		"log":     log.NewModule(o.Stderr, o.LogJSON),
		"sys":     sys.NewModule(o.Argv, o.Getenv),
		"exec":    exec.NewModule(o.AllowExec),
		"http":    http.NewModule(o.AllowNet),
		"table":   table.NewModule(r.vici),
		"swanctl": swanctl.NewModule(r.vici.Client, o.Stdout),
		"x509":    x509.NewModule(),
		"struct":  starlark.NewBuiltin("struct", starlarkstruct.Make),
		"help":    starlark.NewBuiltin("help", r.help),
		"exit":    sys.Exit,
		"quit":    sys.Exit,
		"pp":      starlark.NewBuiltin("pp", r.pp),
	}
}
