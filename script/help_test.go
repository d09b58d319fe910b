package script_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/starlarkvici"
)

// TestEveryBuiltinDocumented: every function of every standard library
// module, and every builtin global, has a help text with its arguments and
// a description; help(module) lists each function; no module documents a
// function it does not have.
func TestEveryBuiltinDocumented(t *testing.T) {
	rt, _ := newRuntime(t)
	sig := regexp.MustCompile(`^[a-z_.]+\([^)\n]*\)`)
	for name, v := range rt.Predeclared() {
		switch v := v.(type) {
		case *starlark.Builtin:
			text := rt.HelpText(v)
			if !sig.MatchString(text) || len(text) < len(v.Name())+20 {
				t.Errorf("help(%s) = %q: want its signature and a description", name, text)
			}
		case *starlarkstruct.Module:
			modText := rt.HelpText(v)
			if !strings.HasPrefix(modText, name+": ") {
				t.Errorf("help(%s) has no summary: %q", name, modText)
			}
			documented := regexp.MustCompile(`(?m)^  `+name+`\.([a-z_]+)\(`).FindAllStringSubmatch(modText, -1)
			for member, mv := range v.Members {
				b, ok := mv.(*starlark.Builtin)
				if !ok {
					continue
				}
				text := rt.HelpText(b)
				want := name + "." + member + "("
				if !strings.HasPrefix(text, want) || !strings.Contains(text, ")\n\n") || len(strings.TrimSpace(text[strings.Index(text, "\n\n"):])) < 10 {
					t.Errorf("help(%s.%s) = %q: want %q, its arguments and a description", name, member, text, want)
				}
				if !strings.Contains(modText, "\n  "+want) {
					t.Errorf("help(%s) does not list %s", name, member)
				}
			}
			for _, d := range documented {
				if _, ok := v.Members[d[1]]; !ok {
					t.Errorf("help(%s) documents %s, which the module does not have", name, d[1])
				}
			}
		}
	}
}

// TestHelpOverview: help() names every global and every vici function,
// the commands and the others (connect, on, off, listen, wait, call,
// stream); help(table.sas) says what it renders and takes.
func TestHelpOverview(t *testing.T) {
	rt, _ := newRuntime(t)
	overview := rt.HelpText(nil)
	var names []string
	for name := range rt.Predeclared() {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		line := regexp.MustCompile(`(?m)^  ` + name + ` +(.*)$`).FindStringSubmatch(overview)
		if line == nil || len(line[1]) < 10 {
			t.Errorf("help() has no line for the global %s", name)
		}
	}
	for _, fn := range []string{"connect(", "on(", "off(", "listen(", "wait(", "call(", "stream(", "stop("} {
		if !strings.Contains(overview, "\n  vici."+fn) {
			t.Errorf("help() does not list vici.%s)", fn)
		}
	}
	for _, c := range starlarkvici.Commands() {
		if !strings.Contains(overview, "\n  vici."+c.Name+" ") {
			t.Errorf("help() does not list vici.%s", c.Name)
		}
	}
	table := rt.Predeclared()["table"].(*starlarkstruct.Module)
	text := rt.HelpText(table.Members["sas"])
	if !strings.HasPrefix(text, "table.sas(sas=None") || !strings.Contains(text, "swanctl --list-sas") || !strings.Contains(text, "vici.list_sas()") {
		t.Errorf("help(table.sas) = %q", text)
	}
	pols, _ := rt.Vici().Attr("list_policies")
	if text := rt.HelpText(pols); !strings.Contains(text, "all three unless") {
		t.Errorf("help(vici.list_policies) does not give the default: %q", text)
	}
}

// TestHelpOfAName: help("vici.initiate") explains what the name stands
// for, as Python's help("topic") does, instead of listing the methods of
// the string (found by the red team); a string that names nothing is still
// explained as a string.
func TestHelpOfAName(t *testing.T) {
	rt, _ := newRuntime(t)
	pre := rt.Predeclared()
	vici := pre["vici"].(starlark.HasAttrs)
	initiate, _ := vici.Attr("initiate")
	for name, want := range map[string]string{
		"vici.initiate": rt.HelpText(initiate),
		"vici":          rt.HelpText(pre["vici"]),
		"x509.parse":    rt.HelpText(mustAttr(t, pre["x509"], "parse")),
		"print":         rt.HelpText(pre["print"]),
	} {
		if got := rt.HelpText(starlark.String(name)); got != want {
			t.Errorf("help(%q) = %q, want %q", name, got, want)
		}
	}
	if got := rt.HelpText(starlark.String("vici.nope")); !strings.Contains(got, "(string)") {
		t.Errorf(`help("vici.nope") = %q, want the help of a string`, got)
	}
}

func mustAttr(t *testing.T, v starlark.Value, name string) starlark.Value {
	t.Helper()
	x, err := v.(starlark.HasAttrs).Attr(name)
	if err != nil || x == nil {
		t.Fatalf("%s has no %s", v, name)
	}
	return x
}
