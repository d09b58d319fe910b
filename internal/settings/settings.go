// Package settings reads strongSwan's configuration syntax, used by
// strongswan.conf and swanctl.conf, the way libstrongswan does (settings.c,
// settings_lexer.l, settings_parser.y): sections, key = value settings,
// quoted strings, include globs relative to the including file, and
// section references (name : ref1, ref2 { ... }). A file with a syntax
// error is refused as a whole, as strongSwan does; names cannot contain
// '.', which separates the parts of a key path.
//
// It serves both vicish's swanctl module (swanctl.conf) and the discovery
// of the VICI socket (strongswan.conf).
package settings

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vicish/vicish/internal/readfile"
)

// Settings is a parsed configuration: a tree of sections with key/values
// and references. Lookups resolve references the way libstrongswan does.
type Settings struct {
	root *section
}

type section struct {
	name     string
	kvs      []*keyValue // in order of first definition
	kvIndex  map[string]*keyValue
	subs     []*section // in order of first definition
	subIndex map[string]*section
	refs     []string // absolute paths of referenced sections
}

// keyValue is one setting; a nil value is a cleared key ("key ="), which is
// skipped when enumerated and hides the same key in referenced sections.
type keyValue struct {
	key   string
	value *string
}

func newSection(name string) *section {
	return &section{name: name, kvIndex: map[string]*keyValue{}, subIndex: map[string]*section{}}
}

// child returns the sub-section name, creating it at the end if missing. A
// section defined twice is one section: the second definition extends it.
func (s *section) child(name string) *section {
	if c, ok := s.subIndex[name]; ok {
		return c
	}
	c := newSection(name)
	s.subs = append(s.subs, c)
	s.subIndex[name] = c
	return c
}

// set defines key; a later definition replaces the value in place.
func (s *section) set(key string, value *string) {
	if kv, ok := s.kvIndex[key]; ok {
		kv.value = value
		return
	}
	kv := &keyValue{key: key, value: value}
	s.kvs = append(s.kvs, kv)
	s.kvIndex[key] = kv
}

func (s *section) addRef(ref string) {
	if !slices.Contains(s.refs, ref) {
		s.refs = append(s.refs, ref)
	}
}

// ParseFile reads and parses the file at path with its includes. Files
// are read with readfile.Read: only regular files, each at most
// readfile.DefaultLimit bytes. Parsing stops with an error wrapping ctx's
// cause when ctx ends.
func ParseFile(ctx context.Context, path string) (*Settings, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(ctx, path, data)
}

// readFile reads a configuration file or an include.
func readFile(path string) ([]byte, error) { return readfile.Read(path, readfile.DefaultLimit) }

// Parse parses data as if read from the file path (includes are relative
// to path's directory), under ctx as ParseFile does.
func Parse(ctx context.Context, path string, data []byte) (*Settings, error) {
	p := &parser{lx: newLexer(ctx, path, data)}
	root := newSection("")
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.statements(root, true); err != nil {
		return nil, err
	}
	return &Settings{root: root}, nil
}

// MaxDepth is how deeply sections may nest. strongSwan's parser gives up
// a little below 5,000 levels ("memory exhausted"); real files nest a
// handful.
const MaxDepth = 4000

type parser struct {
	lx    *lexer
	tok   token
	depth int // sections open
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) unexpected(want string) error {
	got := p.tok.kind.String()
	if p.tok.kind == tName {
		got = fmt.Sprintf("%q", p.tok.text)
	}
	return fmt.Errorf("%s: syntax error: unexpected %s, expecting %s", p.tok.pos, got, want)
}

// statements parses settings and sections into sec until '}' (or the end
// of input at the top level).
func (p *parser) statements(sec *section, top bool) error {
	for {
		switch p.tok.kind {
		case tNewline:
			if err := p.advance(); err != nil {
				return err
			}
		case tEOF:
			if top {
				return nil
			}
			return p.unexpected("'}' (a section is not closed)")
		case tRBrace:
			if top {
				return p.unexpected("a name")
			}
			return nil
		case tName:
			if err := p.statement(sec); err != nil {
				return err
			}
		default:
			return p.unexpected("a name")
		}
	}
}

// statement parses `name { … }`, `name : refs { … }`, `name = value` or
// `name =`.
func (p *parser) statement(parent *section) error {
	name := p.tok.text
	if err := p.advance(); err != nil {
		return err
	}
	switch p.tok.kind {
	case tEq:
		if err := p.advance(); err != nil {
			return err
		}
		var parts []string
		for p.tok.kind == tName || p.tok.kind == tString {
			parts = append(parts, p.tok.text)
			if err := p.advance(); err != nil {
				return err
			}
		}
		if p.tok.kind != tNewline {
			return p.unexpected("a value")
		}
		if len(parts) == 0 {
			parent.set(name, nil)
		} else {
			v := strings.Join(parts, " ")
			parent.set(name, &v)
		}
		return nil
	case tLBrace, tColon:
		sec := parent.child(name)
		if p.tok.kind == tColon {
			if err := p.advance(); err != nil {
				return err
			}
			for {
				if p.tok.kind != tName {
					return p.unexpected("a section reference")
				}
				sec.addRef(p.tok.text)
				if err := p.advance(); err != nil {
					return err
				}
				if p.tok.kind != tComma {
					break
				}
				if err := p.advance(); err != nil {
					return err
				}
			}
			if p.tok.kind != tLBrace {
				return p.unexpected("'{'")
			}
		}
		if p.depth++; p.depth > MaxDepth {
			return fmt.Errorf("%s: sections nest deeper than %d levels", p.tok.pos, MaxDepth)
		}
		if err := p.advance(); err != nil {
			return err
		}
		if err := p.statements(sec, false); err != nil {
			return err
		}
		p.depth--
		return p.advance() // the '}'
	}
	return p.unexpected("'{', ':' or '='")
}

// maxRefDepth bounds reference resolution, which strongSwan leaves open
// to loops such as a section referencing itself.
const maxRefDepth = 64

// sections returns the sections found at the dotted path, followed by the
// sections they reference (depth first) and by same-named sections under
// sections referenced by the path's parents: the order in which their
// contents are enumerated (settings.c find_sections).
func (s *Settings) sections(path string) []*section {
	var out []*section
	s.findSections(s.root, path, false, &out, 0)
	return out
}

func (s *Settings) findSections(sec *section, key string, ignoreRefs bool, out *[]*section, depth int) {
	if sec == nil || depth > maxRefDepth {
		return
	}
	head, rest, hasRest := strings.Cut(key, ".")
	var found *section
	if head == "" {
		found = sec
	} else {
		found = sec.subIndex[head]
	}
	if found != nil {
		if hasRest {
			s.findSections(found, rest, false, out, depth+1)
		} else if !slices.Contains(*out, found) {
			*out = append(*out, found)
			for _, ref := range found.refs {
				s.findSections(s.root, ref, false, out, depth+1)
			}
		}
	}
	if !ignoreRefs && sec != found {
		for _, ref := range sec.refs {
			var refs []*section
			s.findSections(s.root, ref, false, &refs, depth+1)
			for _, r := range refs {
				s.findSections(r, key, true, out, depth+1)
			}
		}
	}
}

// KeyValue is a resolved setting.
type KeyValue struct{ Key, Value string }

// KeyValues enumerates the settings of the section at path, its own first,
// then inherited ones not already seen; cleared keys are skipped but still
// hide inherited values.
func (s *Settings) KeyValues(path string) []KeyValue {
	var out []KeyValue
	seen := map[string]bool{}
	for _, sec := range s.sections(path) {
		for _, e := range sec.kvs {
			if seen[e.key] {
				continue
			}
			seen[e.key] = true
			if e.value != nil {
				out = append(out, KeyValue{e.key, *e.value})
			}
		}
	}
	return out
}

// SectionNames enumerates the names of the sub-sections at path, own ones
// first, then inherited ones.
func (s *Settings) SectionNames(path string) []string {
	var out []string
	seen := map[string]bool{}
	for _, sec := range s.sections(path) {
		for _, sub := range sec.subs {
			if !seen[sub.name] {
				seen[sub.name] = true
				out = append(out, sub.name)
			}
		}
	}
	return out
}

// Get returns the value of the dotted key, following references
// (settings.c find_value); a cleared key reads as unset.
func (s *Settings) Get(key string) (string, bool) {
	var visited []*section
	e := s.findValue(s.root, key, false, &visited, 0)
	if e == nil || e.value == nil {
		return "", false
	}
	return *e.value, true
}

func (s *Settings) findValue(sec *section, key string, ignoreRefs bool, visited *[]*section, depth int) *keyValue {
	if sec == nil || depth > maxRefDepth {
		return nil
	}
	var found *keyValue
	head, rest, hasRest := strings.Cut(key, ".")
	if hasRest {
		next := sec
		if head != "" {
			next = sec.subIndex[head]
		}
		if next != nil {
			found = s.findValue(next, rest, false, visited, depth+1)
		}
	} else {
		*visited = append(*visited, sec)
		found = sec.kvIndex[key]
	}
	if found == nil && !ignoreRefs {
		for _, ref := range sec.refs {
			for _, r := range s.sections(ref) {
				if found != nil {
					break
				}
				if !slices.Contains(*visited, r) {
					found = s.findValue(r, key, true, visited, depth+1)
				}
			}
			if found != nil {
				break
			}
		}
	}
	return found
}
