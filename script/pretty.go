package script

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/redact"
)

// Printer renders values for people: a value that fits the width on one line
// is written as Starlark would print it; larger dicts and lists are spread
// over indented lines; lists longer than MaxItems are folded with a count;
// binary bytes are shown as a length and a hex prefix; the values of secret
// keys (a shared key's data, psk, password, pin, ...) are shown as
// <redacted> and recorded in Secrets; a display.Text at the top is shown as
// its lines.
//
// Rendering is linear in the size of the output: deciding whether a part
// fits on one line looks at no more than the width. A dict or list that
// contains itself is shown as {...} or [...] where it recurs, as Python
// does; nesting deeper than MaxDepth is shown as ...; and Format stops with
// the context's error when Context ends (Ctrl-C).
type Printer struct {
	Width    int             // line width; 0 means 80
	MaxItems int             // items of a list shown before folding; 0 means 50, < 0 no limit
	MaxDepth int             // nesting shown; 0 means 64
	Secrets  *redact.Secrets // where redacted values are recorded; may be nil
	Context  context.Context // ends a long rendering; nil means none

	path  map[any]bool // containers being written: a repeat is a cycle
	steps int
	err   error
}

// Format returns the text for v, without a trailing newline. It fails only
// when p.Context ends first.
func (p *Printer) Format(v starlark.Value) (string, error) {
	if t, ok := v.(display.Text); ok {
		return strings.TrimSuffix(string(t), "\n"), nil
	}
	p.path, p.steps, p.err = map[any]bool{}, 0, nil
	var b strings.Builder
	p.write(&b, v, 0, 0)
	if p.err != nil {
		return "", p.err
	}
	return b.String(), nil
}

func (p *Printer) width() int {
	if p.Width <= 0 {
		return 80
	}
	return p.Width
}

// shown returns how many of n items are written before the fold.
func (p *Printer) shown(n int) int {
	switch {
	case p.MaxItems < 0:
		return n
	case p.MaxItems == 0:
		return min(n, 50)
	}
	return min(n, p.MaxItems)
}

func (p *Printer) maxDepth() int {
	if p.MaxDepth <= 0 {
		return 64
	}
	return p.MaxDepth
}

// stop reports whether rendering must end: the context ended. It looks at
// the context every 1024 values.
func (p *Printer) stop() bool {
	if p.err != nil {
		return true
	}
	if p.steps++; p.steps%1024 == 0 && p.Context != nil {
		p.err = p.Context.Err()
	}
	return p.err != nil
}

// enter marks container v as being written; it reports false when v is
// already on the path (a cycle).
func (p *Printer) enter(v starlark.Value) bool {
	k := identity(v)
	if k == nil {
		return true
	}
	if p.path[k] {
		return false
	}
	p.path[k] = true
	return true
}

func (p *Printer) leave(v starlark.Value) {
	if k := identity(v); k != nil {
		delete(p.path, k)
	}
}

// identity returns what makes a mutable container the same one; tuples
// can only be part of a cycle through a list or dict.
func identity(v starlark.Value) any {
	switch v := v.(type) {
	case *starlark.Dict, *starlark.List:
		return v
	}
	return nil
}

// write appends v, nested depth levels deep, starting at column col.
func (p *Printer) write(b *strings.Builder, v starlark.Value, depth, col int) {
	if p.stop() {
		return
	}
	if !isContainer(v) || depth >= p.maxDepth() {
		p.flat(b, v, depth, -1)
		return
	}
	// One line if it fits in what is left of the width.
	var line strings.Builder
	if p.flat(&line, v, depth, p.width()-col) {
		b.WriteString(line.String())
		return
	}
	if !p.enter(v) {
		b.WriteString(recurring(v))
		return
	}
	defer p.leave(v)
	pad := strings.Repeat("  ", depth+1)
	end := strings.Repeat("  ", depth)
	switch v := v.(type) {
	case *starlark.Dict:
		b.WriteString("{\n")
		items := v.Items()
		keys := redact.KeysOf(items)
		for _, item := range items {
			if p.stop() {
				return
			}
			b.WriteString(pad)
			key := p.scalar(item[0])
			b.WriteString(key)
			b.WriteString(": ")
			if p.secret(keys, item[0], item[1]) {
				b.WriteString(redact.Mark)
			} else {
				p.write(b, item[1], depth+1, len(pad)+len(key)+2)
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
		shown := p.shown(n)
		if allScalars(v, shown) {
			p.fill(b, v, shown, pad, depth)
		} else {
			for i := range shown {
				if p.stop() {
					return
				}
				b.WriteString(pad)
				p.write(b, v.Index(i), depth+1, len(pad))
				b.WriteString(",\n")
			}
		}
		if shown < n {
			fmt.Fprintf(b, "%s... %d more (%d items)\n", pad, n-shown, n)
		}
		b.WriteString(end + closing)
	}
}

// recurring is what a container shows where it contains itself.
func recurring(v starlark.Value) string {
	if _, ok := v.(*starlark.Dict); ok {
		return "{...}"
	}
	return "[...]"
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
func (p *Printer) fill(b *strings.Builder, v starlark.Indexable, n int, pad string, depth int) {
	col := 0
	for i := range n {
		if p.stop() {
			return
		}
		var item strings.Builder
		p.flat(&item, v.Index(i), depth+1, -1)
		item.WriteString(",")
		switch {
		case col == 0:
			b.WriteString(pad)
			col = len(pad)
		case col+1+item.Len() > p.width():
			b.WriteString("\n" + pad)
			col = len(pad)
		default:
			b.WriteString(" ")
			col++
		}
		b.WriteString(item.String())
		col += item.Len()
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

// secret reports whether the entry key: v of a dict whose Keys are keys
// is secret, and if so records v.
func (p *Printer) secret(keys redact.Keys, key, v starlark.Value) bool {
	if !keys.Secret(key) {
		return false
	}
	if p.Secrets != nil {
		p.Secrets.AddValue(v)
	}
	return true
}

// flat writes v on one line: folding long lists, redacting secrets, showing
// recursion as {...} or [...] and nesting deeper than MaxDepth as "...".
// With budget >= 0 it gives up, returning false, as soon as the text would
// be longer than budget; so a fit test costs at most the width.
func (p *Printer) flat(b *strings.Builder, v starlark.Value, depth, budget int) bool {
	start := b.Len()
	over := func() bool { return budget >= 0 && b.Len()-start > budget }
	var walk func(v starlark.Value, depth int) bool
	walk = func(v starlark.Value, depth int) bool {
		if p.stop() || over() {
			return false
		}
		if !isContainer(v) {
			b.WriteString(p.scalar(v))
			return !over()
		}
		if depth >= p.maxDepth() {
			b.WriteString("...")
			return !over()
		}
		if !p.enter(v) {
			b.WriteString(recurring(v))
			return !over()
		}
		defer p.leave(v)
		switch v := v.(type) {
		case *starlark.Dict:
			items := v.Items()
			keys := redact.KeysOf(items)
			b.WriteString("{")
			for i, item := range items {
				if i > 0 {
					b.WriteString(", ")
				}
				if !walk(item[0], depth+1) {
					return false
				}
				b.WriteString(": ")
				if p.secret(keys, item[0], item[1]) {
					b.WriteString(redact.Mark)
				} else if !walk(item[1], depth+1) {
					return false
				}
			}
			b.WriteString("}")
		case starlark.Indexable:
			open, closing := "[", "]"
			if _, ok := v.(starlark.Tuple); ok {
				open, closing = "(", ")"
			}
			b.WriteString(open)
			n := v.Len()
			shown := p.shown(n)
			for i := range shown {
				if i > 0 {
					b.WriteString(", ")
				}
				if !walk(v.Index(i), depth+1) {
					return false
				}
			}
			if shown < n {
				fmt.Fprintf(b, ", ... %d more (%d items)", n-shown, n)
			}
			if n == 1 && closing == ")" {
				b.WriteString(",")
			}
			b.WriteString(closing)
		}
		return !over()
	}
	return walk(v, depth)
}

// scalar renders a value that is not a dict, list or tuple.
func (p *Printer) scalar(v starlark.Value) string {
	switch v := v.(type) {
	case starlark.Bytes:
		if p.Secrets != nil && p.Secrets.Has(string(v)) {
			return redact.Mark // binary bytes would show as hex, which no redaction matches when cut
		}
		return readableBytes(string(v))
	case display.Text:
		return starlark.String(v).String()
	}
	return v.String()
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
