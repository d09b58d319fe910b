package main

import (
	"reflect"
	"strings"
	"testing"
)

const sampleHelp = `tool: does things to other things

Usage:
  tool [FLAGS] FILE                   run FILE
  tool sub [--dir D]
      [--long-flag X]

Flags (before FILE):
  --dir D            where it goes, a description
                     that continues
  -h, --help         help

Examples:
  tool x.star                         runs x.star
  tool -c '.dot' | other
`

func TestParseHelp(t *testing.T) {
	p, err := parseHelp(sampleHelp)
	if err != nil {
		t.Fatal(err)
	}
	want := &helpPage{Name: "tool", Summary: "does things to other things", Sections: []helpSection{
		{Title: "Usage", Entries: []helpEntry{
			{Term: "tool [FLAGS] FILE", Desc: "run FILE"},
			{Term: "tool sub [--dir D]\n[--long-flag X]"},
		}},
		{Title: "Flags", Note: "before FILE", Entries: []helpEntry{
			{Term: "--dir D", Desc: "where it goes, a description that continues"},
			{Term: "-h, --help", Desc: "help"},
		}},
		{Title: "Examples", Entries: []helpEntry{
			{Term: "tool x.star", Desc: "runs x.star"},
			{Term: "tool -c '.dot' | other"},
		}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("parseHelp =\n%#v\nwant\n%#v", p, want)
	}
}

// TestParseHelpErrors: a help text that leaves the grammar fails the
// package build, saying which line.
func TestParseHelpErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"tool does things\n", `line 1: "tool does things" is not`},
		{"tool: x\n  stray\n", "line 2: \"  stray\" comes before the first section title"},
		{"tool: x\nFlags:\n  -a  a\nloose text\n", "line 4: \"loose text\" at the left margin is not a section title"},
		{"tool: x\nFlags:\n\ty  tab\n", "line 3: a tab"},
		{"tool: x\nFlags:\n  -a  a\n\n        orphan\n", "line 5: \"        orphan\" continues no entry"},
		{"tool: x\n", "no sections"},
	} {
		_, err := parseHelp(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseHelp(%q) = %v, want an error with %q", tc.text, err, tc.want)
		}
	}
}

func TestManPage(t *testing.T) {
	p, err := parseHelp(sampleHelp)
	if err != nil {
		t.Fatal(err)
	}
	page := manPage(p, "2026-12-06", "tool 1.0", []string{"other(1)"})
	for _, want := range []string{
		`.TH TOOL 1 2026-12-06 "tool 1.0" "User Commands"`,
		".SH NAME\ntool \\- does things to other things\n",
		".SH \"SYNOPSIS\"\n.TP\n\\fBtool\\fR [\\fIFLAGS\\fR] \\fIFILE\\fR\nrun FILE\n",
		// A term on two lines stays on two.
		".nf\n\\fBtool\\fR \\fBsub\\fR [\\fB\\-\\-dir\\fR \\fID\\fR]\n    [\\fB\\-\\-long\\-flag\\fR \\fIX\\fR]\n.fi\n",
		".SH \"OPTIONS\"\nBefore FILE.\n.PP\n",
		".TP\n\\fB\\-\\-dir\\fR \\fID\\fR\nwhere it goes, a description that continues\n",
		// Examples are lines of their own, their descriptions as comments.
		".SH \"EXAMPLES\"\n.PP\n.nf\n\\fBtool x.star\\fR  # runs x.star\n\\fBtool \\-c '.dot' | other\\fR\n.fi\n",
		".SH \"SEE ALSO\"\n\\fBother\\fR(1)\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks\n%s\n--- page:\n%s", want, page)
		}
	}
}

func TestRoffLine(t *testing.T) {
	for in, want := range map[string]string{
		".dot":  `\&.dot`,
		"'q":    `\&'q`,
		"plain": "plain",
	} {
		if got := roffLine(in); got != want {
			t.Errorf("roffLine(%q) = %q, want %q", in, got, want)
		}
	}
	if got := roffText(`a-b\c`); got != `a\-b\ec` {
		t.Errorf("roffText = %q", got)
	}
}
