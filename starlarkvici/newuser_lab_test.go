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
	switch k.Type {
	case Flag, Bool:
		return starlark.True
	case List:
		return starlark.NewList([]starlark.Value{starlark.String("nope")})
	case Timeout:
		return starlark.MakeInt(1)
	case Int:
		if strings.HasSuffix(k.Name, "-id") {
			return starlark.String("4242") // as list_sas returns ids
		}
		return starlark.MakeInt(1)
	}
	switch k.Name {
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
					for _, p := range d.keywords() {
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

// TestListWhereOneValueBelongs calls every command of the table the way a
// new user gets it wrong: a list (and a tuple) where charon reads one value,
// as a keyword, in the request dict and through vici.call, and a dict where
// it reads a list. Each is refused before sending with an error naming the
// key, the type wanted and the type given. Against a real daemon (both
// releases: VICISH_LAB_DAEMON) with an IKE_SA up, it also shows why: with
// the list, list_sas and terminate would have acted on every SA; and
// timeout= is seconds, as charon's own reply says in milliseconds.
func TestListWhereOneValueBelongs(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	mod := NewModule(Config{URI: l.Gateway("a").URI, Stderr: &syncBuffer{}})
	defer mod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eval := func(src string) (starlark.Value, error) {
		thread := &starlark.Thread{Name: src}
		defer starctx.Attach(thread, ctx)()
		return starlark.EvalOptions(fileOptions, thread, "test", src, starlark.StringDict{"vici": mod})
	}
	refused := func(src, want string) {
		t.Helper()
		_, err := eval(src)
		if err == nil {
			t.Errorf("%s: no error, want %q", src, want)
			return
		}
		msg := err.Error()
		if ee, ok := err.(*starlark.EvalError); ok {
			msg = ee.Msg
		}
		if msg != want {
			t.Errorf("%s:\n got %q\nwant %q", src, msg, want)
		}
	}
	const why = " (charon reads one value here and would ignore a list, as if the key were not given)"
	n := 0
	for _, c := range Commands() {
		for _, k := range c.Keys {
			kw := k.Keyword()
			if k.Type == List {
				refused(fmt.Sprintf(`vici.%s(%s={"a": 1})`, c.Name, kw), fmt.Sprintf("vici.%s: %s: want list of str, got dict", c.Name, kw))
				continue
			}
			want := k.Type.wanted()
			refused(fmt.Sprintf(`vici.%s(%s=["nope"])`, c.Name, kw), fmt.Sprintf("vici.%s: %s: want %s, got list%s", c.Name, kw, want, why))
			refused(fmt.Sprintf(`vici.%s(%s=("nope",))`, c.Name, kw), fmt.Sprintf("vici.%s: %s: want %s, got tuple%s", c.Name, kw, want, why))
			refused(fmt.Sprintf(`vici.%s({%q: ["nope"]})`, c.Name, k.Name), fmt.Sprintf("vici.%s: %s: want %s, got list%s", c.Name, k.Name, want, why))
			refused(fmt.Sprintf(`vici.call(%q, %s=["nope"])`, c.Wire, kw), fmt.Sprintf("vici.call: %s: want %s, got list%s", kw, want, why))
			n++
		}
	}
	if n < 40 {
		t.Fatalf("only %d one-value keys in the command table", n)
	}

	if _, err := eval(`vici.initiate(child="net", ike="ab", timeout="30s")`); err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]string{
		`len(vici.list_sas(ike="nope"))`:                                     "0",
		`len(vici.list_sas(ike_id="99999"))`:                                 "0",
		`len(vici.list_sas(ike="ab"))`:                                       "1",
		`vici.terminate(child="net", ike_id="99999", check=False)["errmsg"]`: `"no matching SAs to terminate found"`,
	} {
		if v, err := eval(src); err != nil || v.String() != want {
			t.Errorf("%s = %v, %v; want %s", src, v, err, want)
		}
	}
	refused(`vici.list_sas(ike=["nope"])`, "vici.list_sas: ike: want str, got list"+why)
	// charon would ignore the list and close net on every IKE_SA
	refused(`vici.terminate(child="net", ike_id=["99999"])`, "vici.terminate: ike_id: want int, got list"+why)
	refused(`vici.list_sas(ike_id="#3")`, `vici.list_sas: ike_id: want int (or a str of its digits), got str "#3"`)
	if v, err := eval(`len(vici.list_sas(ike="ab")[0]["ab"]["child-sas"])`); err != nil || v.String() != "1" {
		t.Fatalf("the CHILD_SA net of ab did not survive the refused commands: %v %v", v, err)
	}

	// timeout= is seconds: charon's reply counts milliseconds.
	refused(`vici.initiate(child="net", ike="ab", timeout=10000)`,
		`vici.initiate: timeout: 10000 seconds is more than an hour: timeout= is in seconds (not milliseconds, as charon and earlier vicish read it); write timeout=10 or timeout="10s" for ten seconds, or a longer wait with its unit, e.g. "2h"`)
	if _, err := eval(`vici.terminate(ike="ab", force=True, timeout=-1)`); err != nil {
		t.Fatal(err)
	}
	if err := l.Gateway("b").Kill(); err != nil {
		t.Fatal(err)
	}
	for timeout, ms := range map[string]string{"1": "1000", `"1500ms"`: "1500", "0.25": "250"} {
		src := `vici.initiate(child="net", ike="ab", timeout=` + timeout + `, check=False)["errmsg"]`
		if v, err := eval(src); err != nil || v.String() != `"CHILD_SA 'net' not established after `+ms+`ms"` {
			t.Errorf("%s = %v, %v; want charon's reply naming %s ms", src, v, err, ms)
		}
	}
}

// TestUse: vici.use points the default session at another daemon, only
// once that daemon answers, and not while callbacks registered with the
// first one would be lost.
func TestUse(t *testing.T) {
	l := labtest.Start(t, lab.Failover)
	mod := NewModule(Config{URI: l.Gateway("a").URI, Stderr: &syncBuffer{}})
	defer mod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	thread := &starlark.Thread{Name: "use"}
	defer starctx.Attach(thread, ctx)()
	run := func(src string) (starlark.Value, error) {
		return starlark.EvalOptions(fileOptions, thread, "test", src, starlark.StringDict{"vici": mod})
	}
	conns := func() string {
		t.Helper()
		v, err := run(`sorted(vici.get_conns()["conns"])`)
		if err != nil {
			t.Fatal(err)
		}
		return v.String()
	}
	if got := conns(); got != `["backup", "primary"]` {
		t.Fatalf("a has %s", got)
	}
	b, missing := l.Gateway("b").URI, "unix://"+t.TempDir()+"/none.vici"
	if _, err := run(`vici.on("ike-updown", lambda name, data: None)`); err != nil {
		t.Fatal(err)
	}
	if _, err := run(fmt.Sprintf("vici.use(%q)", b)); err == nil || !strings.Contains(err.Error(), "vici.use: the default session has callbacks for ike-updown, registered with "+l.Gateway("a").URI+"; remove them with vici.off first") {
		t.Fatalf("vici.use with a callback registered: %v", err)
	}
	if _, err := run(`vici.off("ike-updown")`); err != nil {
		t.Fatal(err)
	}
	if _, err := run(fmt.Sprintf("vici.use(%q)", b)); err != nil {
		t.Fatal(err)
	}
	if got := conns(); got != `["primary"]` {
		t.Fatalf("after vici.use(b), get_conns lists %s, want b's", got)
	}
	for src, want := range map[string]string{
		fmt.Sprintf("vici.use(%q)", missing): "vici.use: vici: cannot connect to " + missing,
		`vici.use("")`:                       `vici.use: want the daemon's URI, e.g. "unix:///run/charon.vici"`,
		`vici.use()`:                         "vici.use: missing argument for uri",
	} {
		if _, err := run(src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
	if got := conns(); got != `["primary"]` {
		t.Fatalf("a failed vici.use moved the default session: get_conns lists %s", got)
	}
}
