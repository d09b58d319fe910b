package script

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.starlark.net/starlark"
)

// Printer renders values for people: a value that fits the width on one line
// is written as Starlark would print it; larger dicts and lists are spread
// over indented lines; lists longer than MaxItems are folded with a count;
// binary bytes are shown as a length and a hex prefix; the values of secret
// keys (a shared key's data, psk, password, pin, ...) are shown as
// <redacted> and recorded in Secrets.
type Printer struct {
	Width    int      // line width; 0 means 80
	MaxItems int      // items of a list shown before folding; 0 means 50
	Secrets  *Secrets // where redacted values are recorded; may be nil
}

// Format returns the text for v, without a trailing newline.
func (p *Printer) Format(v starlark.Value) string {
	var b strings.Builder
	p.write(&b, v, 0, 0)
	return b.String()
}

func (p *Printer) width() int {
	if p.Width <= 0 {
		return 80
	}
	return p.Width
}

func (p *Printer) maxItems() int {
	if p.MaxItems <= 0 {
		return 50
	}
	return p.MaxItems
}

// write appends v, nested depth levels deep, starting at column col.
func (p *Printer) write(b *strings.Builder, v starlark.Value, depth, col int) {
	line := p.inline(v)
	if col+len(line) <= p.width() || !isContainer(v) {
		b.WriteString(line)
		return
	}
	pad := strings.Repeat("  ", depth+1)
	end := strings.Repeat("  ", depth)
	switch v := v.(type) {
	case *starlark.Dict:
		b.WriteString("{\n")
		typ, hasType := dictType(v)
		for _, item := range v.Items() {
			b.WriteString(pad)
			b.WriteString(p.inline(item[0]))
			b.WriteString(": ")
			if k, ok := starlark.AsString(item[0]); ok && isSecretKey(k, typ, hasType) {
				p.record(item[1])
				b.WriteString(Redacted)
			} else {
				p.write(b, item[1], depth+1, len(pad)+len(p.inline(item[0]))+2)
			}
			b.WriteString(",\n")
		}
		b.WriteString(end + "}")
	case starlark.Indexable: // list, tuple
		open, closing := "[", "]"
		if _, ok := v.(starlark.Tuple); ok {
			open, closing = "(", ")"
		}
		b.WriteString(open + "\n")
		n := v.Len()
		shown := min(n, p.maxItems())
		if allScalars(v, shown) {
			p.fill(b, v, shown, pad)
			shown = 0
		}
		for i := range shown {
			b.WriteString(pad)
			p.write(b, v.Index(i), depth+1, len(pad))
			b.WriteString(",\n")
		}
		if shown := min(n, p.maxItems()); shown < n {
			fmt.Fprintf(b, "%s... %d more (%d items)\n", pad, n-shown, n)
		}
		b.WriteString(end + closing)
	}
}

// allScalars reports whether the first n items of v are not containers.
func allScalars(v starlark.Indexable, n int) bool {
	for i := range n {
		if isContainer(v.Index(i)) {
			return false
		}
	}
	return true
}

// fill writes the first n items of v packed into lines of the width, each
// line starting with pad: a long list of names or numbers stays compact.
func (p *Printer) fill(b *strings.Builder, v starlark.Indexable, n int, pad string) {
	col := 0
	for i := range n {
		item := p.inline(v.Index(i)) + ","
		switch {
		case col == 0:
			b.WriteString(pad)
			col = len(pad)
		case col+1+len(item) > p.width():
			b.WriteString("\n" + pad)
			col = len(pad)
		default:
			b.WriteString(" ")
			col++
		}
		b.WriteString(item)
		col += len(item)
	}
	if col > 0 {
		b.WriteString("\n")
	}
}

func isContainer(v starlark.Value) bool {
	switch v.(type) {
	case *starlark.Dict, *starlark.List, starlark.Tuple:
		return true
	}
	return false
}

// dictType returns the dict's "type" entry, which decides whether its
// "data" is secret.
func dictType(d *starlark.Dict) (string, bool) {
	v, found, _ := d.Get(starlark.String("type"))
	if !found {
		return "", false
	}
	s, _ := starlark.AsString(v)
	return s, true
}

func (p *Printer) record(v starlark.Value) {
	if p.Secrets == nil {
		return
	}
	if s, ok := starlark.AsString(v); ok {
		p.Secrets.Add(s)
	}
}

// inline renders v on one line, folding long lists and redacting secrets.
func (p *Printer) inline(v starlark.Value) string {
	switch v := v.(type) {
	case *starlark.Dict:
		typ, hasType := dictType(v)
		parts := make([]string, 0, v.Len())
		for _, item := range v.Items() {
			val := ""
			if k, ok := starlark.AsString(item[0]); ok && isSecretKey(k, typ, hasType) {
				p.record(item[1])
				val = Redacted
			} else {
				val = p.inline(item[1])
			}
			parts = append(parts, p.inline(item[0])+": "+val)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *starlark.List:
		return "[" + p.items(v) + "]"
	case starlark.Tuple:
		if v.Len() == 1 {
			return "(" + p.inline(v[0]) + ",)"
		}
		return "(" + p.items(v) + ")"
	case starlark.Bytes:
		return readableBytes(string(v))
	}
	return v.String()
}

func (p *Printer) items(v starlark.Indexable) string {
	n := v.Len()
	shown := min(n, p.maxItems())
	parts := make([]string, 0, shown+1)
	for i := range shown {
		parts = append(parts, p.inline(v.Index(i)))
	}
	if shown < n {
		parts = append(parts, fmt.Sprintf("... %d more (%d items)", n-shown, n))
	}
	return strings.Join(parts, ", ")
}

// readableBytes shows text as a bytes literal, and binary data (a DER
// certificate, say) as its length and first bytes in hex.
func readableBytes(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsPrint(r) && r != '\n' && r != '\t' && r != '\r'
	}) {
		return starlark.Bytes(s).String()
	}
	const head = 16
	var b strings.Builder
	fmt.Fprintf(&b, "<%d bytes:", len(s))
	for i := 0; i < len(s) && i < head; i++ {
		fmt.Fprintf(&b, " %02x", s[i])
	}
	if len(s) > head {
		b.WriteString(" ...")
	}
	b.WriteString(">")
	return b.String()
}
