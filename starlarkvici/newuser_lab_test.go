package starlarkvici

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"go.starlark.net/starlark"
)

// firstTryValue is what a new user passes for a documented key the first
// time: a plausible value that names nothing loaded (most keys), or the
// obvious on/number for flags and amounts.
func firstTryValue(k Key) starlark.Value {
	switch {
	case k.Presence:
		return starlark.True
	case k.List:
		return starlark.NewList([]starlark.Value{starlark.String("nope")})
	}
	switch k.Name {
	case "timeout", "loglevel", "slot":
		return starlark.MakeInt(1)
	case "init-limits", "force", "reauth", "leases", "all":
		return starlark.True
	case "ike-id", "child-id":
		return starlark.String("4242")
	case "peer-ip", "gateway":
		return starlark.String("192.0.2.99")
	}
	return starlark.String("nope")
}

// otherFirstTry is a first try at a keyword of a builtin that is not a
// command (connect, listen, wait, ...).
func otherFirstTry(param string) starlark.Value {
	switch param {
	case "uri":
		return starlark.String("unix:///nonexistent/charon.vici")
	case "deadline", "timeout":
		return starlark.Float(0.1)
	case "count":
		return starlark.MakeInt(1)
	case "reconnect", "keep_going", "check":
		return starlark.True
	case "event":
		return starlark.String("ike-updown")
	case "members":
		return starlark.NewList(nil)
	}
	return starlark.NewBuiltin("print", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		return starlark.None, nil
	}) // fn, each, match
}

// kwString renders keyword arguments as a call shows them.
func kwString(kw []starlark.Tuple) string {
	parts := make([]string, len(kw))
	for i, p := range kw {
		parts[i] = string(p[0].(starlark.String)) + "=" + p[1].String()
	}
	return strings.Join(parts, ", ")
}

// goish matches what must never reach a user in an error message: Go's
// own formatting of values, nil pointers, panics, raw wire names.
var goish = regexp.MustCompile(`&\{|0x[0-9a-f]{6,}|%!|<nil>|map\[|\[\]byte|struct \{|goroutine |panic|runtime error|malformed|\*vici\.|starlark\.[A-Z]`)

// TestEveryBuiltinAsNewUser calls every builtin of the vici module the way
// a new user first does: with no argument at all, then each command once
// with each documented key, against a real daemon (both strongSwan
// releases: VICISH_LAB_DAEMON). It is driven by the module itself and the
// command table, so a new builtin or key is covered without editing it.
// Every reply must decode into Starlark values; every refusal (the
// daemon's or vicish's) must be an error that names the builtin and reads
// as a sentence, not a Go value.
func TestEveryBuiltinAsNewUser(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	gw := l.Gateway("a")
	mod := NewModule(Config{URI: gw.URI, Stderr: &syncBuffer{}})
	defer mod.Close()
	t.Logf("strongSwan %s", gw.Version())

	byName := map[string]Command{}
	for _, c := range Commands() {
		byName[c.Name] = c
	}
	// try calls vici.<name>(*args, **kwargs) and checks what comes back.
	try := func(t *testing.T, name, call string, args starlark.Tuple, kwargs []starlark.Tuple) {
		t.Helper()
		fn, _ := mod.Attr(name)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		thread := &starlark.Thread{Name: call, Print: func(*starlark.Thread, string) {}}
		defer starctx.Attach(thread, ctx)()
		v, err := starlark.Call(thread, fn, args, kwargs)
		if ctx.Err() != nil {
			t.Fatalf("%s did not return within 30 s: %v", call, err)
		}
		if err != nil {
			msg := err.Error()
			if ee, ok := err.(*starlark.EvalError); ok {
				msg = ee.Msg
			}
			t.Logf("%s: error: %s", call, msg)
			if !strings.HasPrefix(msg, "vici."+name+": ") && !strings.HasPrefix(msg, "vici."+name+" ") {
				t.Errorf("%s: the error does not name the builtin: %q", call, msg)
			}
			if goish.MatchString(msg) || strings.Contains(msg, "\n") || len(msg) > 400 {
				t.Errorf("%s: the error does not read well: %q", call, msg)
			}
			if strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(msg, "vici."+name), ":")) == "" {
				t.Errorf("%s: the error says nothing: %q", call, msg)
			}
			return
		}
		if v == nil {
			t.Fatalf("%s returned a nil Value", call)
		}
		text := v.String()
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		t.Logf("%s = %s %s", call, v.Type(), text)
		if c, ok := byName[name]; ok {
			// A command's reply decoded: a list of entries for a streamed
			// command, a dict for the others.
			if want := "dict"; c.Streamed() && v.Type() != "list" || !c.Streamed() && v.Type() != want {
				t.Errorf("%s returned a %s", call, v.Type())
			}
		}
		if s, ok := v.(*Session); ok {
			if err := s.close(); err != nil {
				t.Errorf("%s: close: %v", call, err)
			}
		}
	}

	for _, name := range mod.AttrNames() {
		v, _ := mod.Attr(name)
		if _, ok := v.(*starlark.Builtin); !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			try(t, name, "vici."+name+"()", nil, nil)
			c, ok := byName[name]
			if !ok {
				for _, d := range otherBuiltins() {
					if d.name != name {
						continue
					}
					for _, p := range d.params {
						kw := []starlark.Tuple{{starlark.String(p), otherFirstTry(p)}}
						if name == "wait" && p == "event" {
							// wait() blocks until the event comes, by design
							kw = append(kw, starlark.Tuple{starlark.String("timeout"), starlark.Float(0.1)})
						}
						try(t, name, fmt.Sprintf("vici.%s(%s)", name, kwString(kw)), nil, kw)
					}
				}
				return
			}
			for _, k := range c.Keys {
				val := firstTryValue(k)
				try(t, name, "vici."+name+"("+k.Keyword()+"="+val.String()+")",
					nil, []starlark.Tuple{{starlark.String(k.Keyword()), val}})
			}
			if c.schema != nil {
				// load_conn and friends: the documented form with one
				// empty entry, as a first try at {name: {settings}}.
				d := starlark.NewDict(1)
				_ = d.SetKey(starlark.String("nope"), starlark.NewDict(0))
				try(t, name, "vici."+name+"("+d.String()+")", starlark.Tuple{d}, nil)
			}
		})
	}
	// The daemon is still there and answers after all of that.
	try(t, "version", "vici.version() at the end", nil, nil)
}
