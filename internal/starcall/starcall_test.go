package starcall

import (
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

func TestCheck(t *testing.T) {
	src := `
def two(a, b): pass
def two_or_more(a, b, *rest): pass
def one_or_two(a, b=1): pass
def with_session(name, data, session): pass
def session_first(session, name, data): pass
def kwonly(a, b, *, extra): pass
def kwonly_default(a, b, *, extra=1): pass
def reason_only(reason): pass
def none(): pass
`
	globals, err := starlark.ExecFileOptions(&syntax.FileOptions{}, &starlark.Thread{}, "f.star", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		fn      string
		n       int
		keyword string
		want    string // "" for no error, else a part of it
	}{
		{"two", 2, "", ""},
		{"two", 1, "", "two(a, b) takes 2 arguments, but it is called as CALL"},
		{"two", 3, "", "two(a, b) takes 2 arguments"},
		{"two_or_more", 5, "", ""},
		{"two_or_more", 1, "", "takes at least 2 arguments"},
		{"one_or_two", 1, "", ""},
		{"one_or_two", 3, "", "takes 1 to 2 arguments"},
		{"with_session", 2, "session", ""},
		{"with_session", 2, "", "takes 3 arguments"},
		{"session_first", 2, "session", "session_first takes session as its parameter 1, but it comes as the keyword session="},
		{"kwonly", 2, "", "kwonly has the keyword-only parameter extra, which no call gives"},
		{"kwonly_default", 2, "", ""},
		{"reason_only", 0, "reason", ""},
		{"reason_only", 0, "", "takes 1 argument"},
		{"none", 0, "reason", ""},
		{"none", 1, "", "none() takes 0 arguments"},
	} {
		err := Check(globals[c.fn].(starlark.Callable), c.n, c.keyword, "CALL")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s with %d and %q: %v", c.fn, c.n, c.keyword, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s with %d and %q: %v, want %q", c.fn, c.n, c.keyword, err, c.want)
		}
	}
	// A builtin's parameters are not known: it passes.
	if err := Check(starlark.Universe["len"].(starlark.Callable), 5, "", "CALL"); err != nil {
		t.Errorf("a builtin: %v", err)
	}
}
