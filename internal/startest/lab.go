package startest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/readfile"
)

// labBuiltin implements lab(topology=2, daemon=None, config={}): real
// charon daemons (package lab) for the rest of the test, stopped when it
// ends, failed or not. daemon is "system" or "newest" (None: as
// $VICISH_LAB_DAEMON says, else system); config maps a gateway's name to
// a swanctl.conf of the operator's, loaded in place of the lab's. Without
// root or strongSwan the test is skipped, saying why (on CI, $CI=true, it
// fails instead, as the project's Go lab tests do).
func labBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var topology starlark.Value = starlark.MakeInt(2)
	var daemon starlark.Value = starlark.None
	var config *starlark.Dict
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "topology?", &topology, "daemon?", &daemon, "config?", &config); err != nil {
		return nil, err
	}
	t := testOf(thread)
	if t.short {
		return nil, &errSkip{reason: "a lab test (vicish test -short)"}
	}
	var cfg lab.Config
	var err error
	if cfg.Topology, err = lab.ParseTopology(strings.Trim(topology.String(), `"`)); err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	switch d := daemon.(type) {
	case starlark.NoneType:
		if cfg.Daemon, err = lab.DaemonFromEnv(); err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
	case starlark.String:
		if cfg.Daemon, err = lab.ParseDaemon(string(d)); err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
	default:
		return nil, fmt.Errorf("%s: daemon: got %s, want \"system\" or \"newest\"", b.Name(), daemon.Type())
	}
	confs := map[string][]byte{}
	if config != nil {
		for _, kv := range config.Items() {
			name, ok1 := starlark.AsString(kv[0])
			path, ok2 := starlark.AsString(kv[1])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: config: got %s: %s, want a gateway's name: the path of its swanctl.conf", b.Name(), kv[0].Type(), kv[1].Type())
			}
			if confs[name], err = readfile.Read(relativeTo(thread, path), readfile.DefaultLimit); err != nil {
				return nil, fmt.Errorf("%s: config %s: %v", b.Name(), name, err)
			}
		}
	}
	if err := lab.Check(); err != nil {
		if (errors.Is(err, lab.ErrNotRoot) || errors.Is(err, lab.ErrNotInstalled)) && os.Getenv("CI") != "true" {
			return nil, &errSkip{reason: "the lab: " + err.Error()}
		}
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if cfg.Daemon == lab.NewestDaemon {
		ctx, cancel := context.WithTimeout(t.ctx, 30*time.Minute)
		_, err := lab.EnsureNewestRoot(ctx, os.Stderr)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
	}
	l, err := lab.Up(t.ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	t.cleanup(func() {
		if err := l.Down(); err != nil {
			t.errorf("lab %s: down: %v", l.ID, err)
		}
	})
	names := make([]string, 0, len(confs))
	for name := range confs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		g := l.Gateway(name)
		if g == nil {
			return nil, fmt.Errorf("%s: config: the %s lab has no gateway %q", b.Name(), cfg.Topology, name)
		}
		if err := g.LoadConfig(t.ctx, confs[name]); err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
	}
	gws := starlark.NewDict(len(l.Gateways))
	for _, g := range l.Gateways {
		t.fakes.mu.Lock()
		t.fakes.real[g.URI] = g.Socket
		t.fakes.mu.Unlock()
		gws.SetKey(starlark.String(g.Name), &gateway{g: g, t: t})
	}
	gws.Freeze()
	return &labValue{l: l, gateways: gws}, nil
}

// labValue is the Starlark value of a lab.
type labValue struct {
	l        *lab.Lab
	gateways *starlark.Dict
}

func (v *labValue) String() string        { return fmt.Sprintf("<lab %s: %s>", v.l.ID, v.l.Topology) }
func (v *labValue) Type() string          { return "lab" }
func (v *labValue) Freeze()               {}
func (v *labValue) Truth() starlark.Bool  { return true }
func (v *labValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: lab") }
func (v *labValue) AttrNames() []string   { return []string{"dir", "gateways"} }

func (v *labValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "gateways":
		return v.gateways, nil
	case "dir":
		return starlark.String(v.l.Dir), nil
	}
	return nil, nil
}

// gateway is the Starlark value of a lab gateway: its name, URI, address
// and strongSwan version, and kill(), restart(), swanctl(*args).
type gateway struct {
	g *lab.Gateway
	t *testRun
}

func (v *gateway) String() string        { return fmt.Sprintf("<gateway %s %s>", v.g.Name, v.g.URI) }
func (v *gateway) Type() string          { return "gateway" }
func (v *gateway) Freeze()               {}
func (v *gateway) Truth() starlark.Bool  { return true }
func (v *gateway) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: gateway") }

func (v *gateway) AttrNames() []string {
	return []string{"addr", "daemon", "kill", "name", "restart", "swanctl", "uri", "version"}
}

func (v *gateway) Attr(name string) (starlark.Value, error) {
	g := v.g
	switch name {
	case "name":
		return starlark.String(g.Name), nil
	case "uri":
		return starlark.String(g.URI), nil
	case "addr":
		return starlark.String(g.Addr), nil
	case "version":
		return starlark.String(g.Version()), nil
	case "daemon":
		return starlark.String(string(g.Daemon)), nil
	case "kill":
		return starlark.NewBuiltin("kill", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
				return nil, err
			}
			return starlark.None, g.Kill()
		}), nil
	case "restart":
		return starlark.NewBuiltin("restart", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
				return nil, err
			}
			return starlark.None, g.Restart(v.t.ctx)
		}), nil
	case "swanctl":
		return starlark.NewBuiltin("swanctl", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if len(kwargs) > 0 {
				return nil, fmt.Errorf("%s: unexpected keyword argument %s", b.Name(), kwargs[0][0])
			}
			argv := make([]string, len(args))
			for i, a := range args {
				s, ok := starlark.AsString(a)
				if !ok {
					return nil, fmt.Errorf("%s: argument %d is a %s, want str", b.Name(), i+1, a.Type())
				}
				argv[i] = s
			}
			out, err := g.Swanctl(v.t.ctx, argv...)
			if err != nil {
				return nil, fmt.Errorf("%s: %v\n%s", b.Name(), err, out)
			}
			return starlark.String(out), nil
		}), nil
	}
	return nil, nil
}
