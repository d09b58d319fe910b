package main

import (
	"fmt"
	"strings"
)

// A helpPage is one help text as vicish prints it (`vicish -h`, `vicish
// lab help`), parsed. The grammar, which cmd/vicish's texts follow:
//
//	NAME: SUMMARY                   the first line
//	                                blank lines anywhere
//	Title:                          a section, at the left margin; also
//	Title (a note):                 with a note
//	  TERM  DESCRIPTION             an entry: two spaces, a term, two or
//	        DESCRIPTION...          more spaces; further lines indented
//	                                deeper continue the description
//	  TERM                          an entry without a description; lines
//	     TERM...                    indented deeper continue the term
//
// Anything else is an error, so that a help text drifting from the grammar
// fails the package build instead of producing a wrong manual page.
type helpPage struct {
	Name     string // "vicish", "vicish lab"
	Summary  string
	Sections []helpSection
}

// A helpSection is one "Title:" and its entries.
type helpSection struct {
	Title   string // "Flags"
	Note    string // "before FILE, -c or -e; what follows belongs to the script"
	Entries []helpEntry
}

// A helpEntry is a term and its description ("" for a line of its own). A
// term continued on further lines keeps its line breaks ("\n"); a
// description is one paragraph.
type helpEntry struct {
	Term string
	Desc string
}

// parseHelp parses text by the grammar above.
func parseHelp(text string) (*helpPage, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	name, summary, ok := strings.Cut(lines[0], ": ")
	if !ok || name == "" || strings.HasPrefix(name, " ") || summary == "" {
		return nil, fmt.Errorf("line 1: %q is not \"NAME: SUMMARY\"", lines[0])
	}
	p := &helpPage{Name: name, Summary: summary}
	var sec *helpSection
	var entry *helpEntry
	for i, line := range lines[1:] {
		n := i + 2
		indent := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case strings.TrimSpace(line) == "":
			entry = nil // a blank line ends an entry
		case strings.ContainsRune(line, '\t'):
			return nil, fmt.Errorf("line %d: a tab: %q", n, line)
		case indent == 0:
			title, ok := strings.CutSuffix(line, ":")
			if !ok {
				return nil, fmt.Errorf("line %d: %q at the left margin is not a section title (\"Title:\")", n, line)
			}
			var note string
			if t, rest, found := strings.Cut(title, " ("); found && strings.HasSuffix(rest, ")") {
				title, note = t, strings.TrimSuffix(rest, ")")
			}
			p.Sections = append(p.Sections, helpSection{Title: title, Note: note})
			sec, entry = &p.Sections[len(p.Sections)-1], nil
		case sec == nil:
			return nil, fmt.Errorf("line %d: %q comes before the first section title", n, line)
		case indent == 2:
			text := line[2:]
			term, desc := text, ""
			if at := strings.Index(text, "  "); at >= 0 {
				term, desc = text[:at], strings.TrimSpace(text[at:])
			}
			sec.Entries = append(sec.Entries, helpEntry{Term: term, Desc: desc})
			entry = &sec.Entries[len(sec.Entries)-1]
		case entry == nil:
			return nil, fmt.Errorf("line %d: %q continues no entry (an entry starts two spaces in)", n, line)
		case entry.Desc != "":
			entry.Desc += " " + strings.TrimSpace(line)
		default:
			entry.Term += "\n" + strings.TrimSpace(line)
		}
	}
	if len(p.Sections) == 0 {
		return nil, fmt.Errorf("no sections")
	}
	return p, nil
}
