package starlarkvici

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vicish/vicish/vici"
)

// Discover finds the daemon's VICI socket the way swanctl does, for a host
// that was not given one: $VICI_URI, else the strongswan.conf settings
// swanctl.socket, swanctl.plugins.vici.socket or charon.plugins.vici.socket
// (from $STRONGSWAN_CONF or /etc/strongswan.conf, following includes), else
// vici.DefaultURI. getenv is usually os.Getenv.
func Discover(getenv func(string) string) string {
	if uri := getenv("VICI_URI"); uri != "" {
		return uri
	}
	path := getenv("STRONGSWAN_CONF")
	if path == "" {
		path = "/etc/strongswan.conf"
	}
	s := settings{}
	s.parseFile(path, "", 0)
	for _, key := range []string{"swanctl.socket", "swanctl.plugins.vici.socket", "charon.plugins.vici.socket"} {
		if v := s[key]; v != "" {
			return v
		}
	}
	return vici.DefaultURI
}

// settings is a flattened strongswan.conf: "charon.plugins.vici.socket" →
// value. It understands sections, key = value, comments, quoted strings
// and include globs; section references (name : ref) are accepted but not
// followed, and syntax errors end parsing of that file quietly, because
// discovery must fall back rather than fail.
type settings map[string]string

const maxIncludeDepth = 10

func (s settings) parseFile(path, prefix string, depth int) {
	if depth > maxIncludeDepth {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	p := &settingsParser{s: s, src: string(data), dir: filepath.Dir(path), depth: depth}
	p.parse(prefix)
}

type settingsParser struct {
	s     settings
	src   string
	pos   int
	dir   string
	depth int
}

func (p *settingsParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// skipSpace skips blanks, and newlines and comments when lines is true.
func (p *settingsParser) skipSpace(lines bool) {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\r':
			p.pos++
		case c == '\n' && lines:
			p.pos++
		case c == '#' && lines:
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func isNameByte(c byte) bool {
	return c > ' ' && !strings.ContainsRune("{}=#:,\"", rune(c))
}

func (p *settingsParser) name() string {
	start := p.pos
	for p.pos < len(p.src) && isNameByte(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// parse reads statements until the end of input or a closing brace of the
// section it was called for, prefixing keys with prefix. It reports false
// on a syntax error.
func (p *settingsParser) parse(prefix string) bool {
	for {
		p.skipSpace(true)
		switch p.peek() {
		case 0:
			return true
		case '}':
			p.pos++
			return true
		}
		name := p.name()
		if name == "" {
			return false
		}
		p.skipSpace(false)
		if name == "include" && p.peek() != '=' && p.peek() != '{' {
			p.include(prefix)
			continue
		}
		switch p.peek() {
		case '=':
			p.pos++
			p.s[joinPath(prefix, name)] = p.value()
		case ':':
			for p.pos < len(p.src) && p.src[p.pos] != '{' {
				p.pos++
			}
			fallthrough
		case '{':
			p.pos++
			if !p.parse(joinPath(prefix, name)) {
				return false
			}
		default:
			return false
		}
	}
}

// value reads a value up to the end of the line, '#' or '}': words are
// joined by single spaces, quoted strings keep their content.
func (p *settingsParser) value() string {
	var words []string
	for {
		p.skipSpace(false)
		c := p.peek()
		switch {
		case c == 0 || c == '\n' || c == '#' || c == '}':
			return strings.Join(words, " ")
		case c == '"':
			words = append(words, p.quoted())
		default:
			start := p.pos
			for p.pos < len(p.src) && !strings.ContainsRune("#}\"\r\n\t ", rune(p.src[p.pos])) {
				p.pos++
			}
			words = append(words, p.src[start:p.pos])
		}
	}
}

func (p *settingsParser) quoted() string {
	p.pos++ // opening quote
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		p.pos++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if p.pos < len(p.src) {
				e := p.src[p.pos]
				p.pos++
				switch e {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(e)
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// include reads the pattern of an include statement and parses the files
// it matches, in name order, relative to the including file.
func (p *settingsParser) include(prefix string) {
	var pattern string
	if p.peek() == '"' {
		pattern = p.quoted()
	} else {
		start := p.pos
		for p.pos < len(p.src) && !strings.ContainsRune("#}\r\n\t ", rune(p.src[p.pos])) {
			p.pos++
		}
		pattern = p.src[start:p.pos]
	}
	if pattern == "" {
		return
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(p.dir, pattern)
	}
	files, _ := filepath.Glob(pattern)
	sort.Strings(files)
	for _, f := range files {
		p.s.parseFile(f, prefix, p.depth+1)
	}
}
