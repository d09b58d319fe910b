package table

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/starctx"
	"go.starlark.net/starlark"
)

// column is one output column: the dict key it shows and its header.
type column struct {
	key    starlark.Value
	header string
}

func render(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var rowsV starlark.Iterable
	var colsV starlark.Iterable
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "rows", &rowsV, "columns??", &colsV); err != nil {
		return nil, err
	}
	if _, ok := rowsV.(starlark.Mapping); ok {
		return nil, fmt.Errorf("%s: got a dict, want a list of rows: table.render([d]) for one row, table.render(d.items()) for one row per key", b.Name())
	}
	rows := collect(rowsV)
	var cols []column
	if colsV != nil {
		for i, c := range collect(colsV) {
			col, err := toColumn(c)
			if err != nil {
				return nil, fmt.Errorf("%s: columns[%d]: %w", b.Name(), i, err)
			}
			cols = append(cols, col)
		}
	}

	// Decide the kind of rows from the first one; all must agree.
	var cells [][]cell
	switch {
	case len(rows) == 0:
	case isMapping(rows[0]):
		if colsV == nil {
			cols = keysOf(rows)
		}
		for i, r := range rows {
			if err := interrupted(thread, b, i); err != nil {
				return nil, err
			}
			m, ok := r.(starlark.Mapping)
			if !ok {
				return nil, fmt.Errorf("%s: row %d is %s, but row 0 is a dict", b.Name(), i, r.Type())
			}
			line := make([]cell, len(cols))
			for j, c := range cols {
				v, found, err := m.Get(c.key)
				if err != nil {
					return nil, fmt.Errorf("%s: row %d: %w", b.Name(), i, err)
				}
				if found {
					line[j] = newCell(v)
				}
			}
			cells = append(cells, line)
		}
	default:
		for i, r := range rows {
			if err := interrupted(thread, b, i); err != nil {
				return nil, err
			}
			var seq starlark.Indexable
			switch r := r.(type) {
			case *starlark.List:
				seq = r
			case starlark.Tuple:
				seq = r
			}
			if seq == nil {
				return nil, fmt.Errorf("%s: row %d is %s, want a dict, list or tuple", b.Name(), i, r.Type())
			}
			line := make([]cell, seq.Len())
			for j := range line {
				line[j] = newCell(seq.Index(j))
			}
			cells = append(cells, line)
		}
	}

	var header []cell
	for _, c := range cols {
		header = append(header, cell{text: c.header})
	}
	return display.Text(layout(header, cells)), nil
}

// interrupted reports, every 256 rows, whether the thread's context has
// ended, so rendering a huge table stops on Ctrl-C.
func interrupted(thread *starlark.Thread, b *starlark.Builtin, row int) error {
	if row%256 != 0 {
		return nil
	}
	if err := starctx.Interrupted(starctx.From(thread)); err != nil {
		return fmt.Errorf("%s: at row %d: %w", b.Name(), row, err)
	}
	return nil
}

// collect returns the elements of an iterable.
func collect(it starlark.Iterable) []starlark.Value {
	var out []starlark.Value
	iter := it.Iterate()
	defer iter.Done()
	var v starlark.Value
	for iter.Next(&v) {
		out = append(out, v)
	}
	return out
}

func isMapping(v starlark.Value) bool {
	_, ok := v.(starlark.IterableMapping)
	return ok
}

// toColumn reads a columns entry: "key" or ("key", "header").
func toColumn(v starlark.Value) (column, error) {
	if s, ok := v.(starlark.String); ok {
		return column{key: s, header: string(s)}, nil
	}
	if t, ok := v.(starlark.Tuple); ok && len(t) == 2 {
		if h, ok := t[1].(starlark.String); ok {
			return column{key: t[0], header: string(h)}, nil
		}
	}
	return column{}, fmt.Errorf("got %s, want a key (string) or a (key, header) pair", v.Type())
}

// keysOf returns every key of the dict rows, in the order first seen.
func keysOf(rows []starlark.Value) []column {
	var cols []column
	seen := make(map[string]bool)
	for _, r := range rows {
		m, ok := r.(starlark.IterableMapping)
		if !ok {
			continue
		}
		for _, kv := range m.Items() {
			label := text(kv[0])
			if !seen[label] {
				seen[label] = true
				cols = append(cols, column{key: kv[0], header: label})
			}
		}
	}
	return cols
}

// cell is one formatted table cell.
type cell struct {
	text  string
	right bool // numbers align right
}

func newCell(v starlark.Value) cell {
	switch v.(type) {
	case starlark.Int, starlark.Float:
		return cell{text: v.String(), right: true}
	}
	return cell{text: text(v)}
}

// maxCellDepth is how deeply a cell follows values nested in lists and
// dicts; deeper ones show as "...".
const maxCellDepth = 16

// text formats a value for display: strings without quotes, None as
// nothing, lists and tuples as their items joined with ", ". Values nested
// in a dict show as Starlark prints them. The work is bounded: nesting past
// maxCellDepth shows as "...", and a list or dict inside itself as "[...]"
// or "{...}", as Starlark prints it.
func text(v starlark.Value) string {
	var w cellWriter
	w.plain(v, 0)
	// Keep every row on one line.
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, w.b.String())
}

// cellWriter formats one cell.
type cellWriter struct {
	b    strings.Builder
	open []starlark.Value // mutable containers being written, for cycles
}

// enter reports whether container v may be written at depth: not past
// maxCellDepth and not inside itself. It writes the placeholder otherwise.
func (w *cellWriter) enter(v starlark.Value, depth int, cycle string) bool {
	if depth >= maxCellDepth {
		w.b.WriteString("...")
		return false
	}
	switch v.(type) {
	case *starlark.List, *starlark.Dict, *starlark.Set:
		for _, o := range w.open {
			if o == v {
				w.b.WriteString(cycle)
				return false
			}
		}
	}
	w.open = append(w.open, v)
	return true
}

func (w *cellWriter) leave() { w.open = w.open[:len(w.open)-1] }

// plain writes v as a cell shows it: strings bare, None as nothing, list
// items joined with ", ".
func (w *cellWriter) plain(v starlark.Value, depth int) {
	switch v := v.(type) {
	case starlark.NoneType:
	case starlark.String:
		w.b.WriteString(string(v))
	case *starlark.List, starlark.Tuple:
		if !w.enter(v, depth, "[...]") {
			return
		}
		seq := v.(starlark.Indexable)
		for i := range seq.Len() {
			if i > 0 {
				w.b.WriteString(", ")
			}
			w.plain(seq.Index(i), depth+1)
		}
		w.leave()
	default:
		w.repr(v, depth)
	}
}

// repr writes v as Starlark prints it, within the same bounds.
func (w *cellWriter) repr(v starlark.Value, depth int) {
	var open, close string
	var items func(yield func(k, v starlark.Value) bool)
	switch v := v.(type) {
	case *starlark.List:
		open, close, items = "[", "]", indexed(v)
	case starlark.Tuple:
		open, close, items = "(", ")", indexed(v)
		if v.Len() == 1 {
			close = ",)"
		}
	case *starlark.Set:
		open, close, items = "set([", "])", indexed(starlark.Tuple(collect(v)))
	case *starlark.Dict:
		open, close, items = "{", "}", v.Entries()
	default:
		w.b.WriteString(v.String())
		return
	}
	cycle := "[...]"
	if open == "{" {
		cycle = "{...}"
	}
	if !w.enter(v, depth, cycle) {
		return
	}
	w.b.WriteString(open)
	first := true
	for k, x := range items {
		if !first {
			w.b.WriteString(", ")
		}
		first = false
		if k != nil {
			w.repr(k, depth+1)
			w.b.WriteString(": ")
		}
		w.repr(x, depth+1)
	}
	w.b.WriteString(close)
	w.leave()
}

// indexed iterates a sequence's items with nil keys.
func indexed(seq starlark.Indexable) func(yield func(k, v starlark.Value) bool) {
	return func(yield func(k, v starlark.Value) bool) {
		for i := range seq.Len() {
			if !yield(nil, seq.Index(i)) {
				return
			}
		}
	}
}

// layout aligns header (may be empty) and rows into columns separated by
// two spaces, without trailing spaces.
func layout(header []cell, rows [][]cell) string {
	all := rows
	if len(header) > 0 {
		all = append([][]cell{header}, rows...)
	}
	// A header sits right over a column of numbers.
	for i := range header {
		nums, others := 0, 0
		for _, r := range rows {
			switch {
			case i >= len(r) || r[i].text == "":
			case r[i].right:
				nums++
			default:
				others++
			}
		}
		header[i].right = nums > 0 && others == 0
	}
	var widths []int
	for _, r := range all {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	var b strings.Builder
	for n, r := range all {
		if n > 0 {
			b.WriteByte('\n')
		}
		var line strings.Builder
		for i, c := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text))
			if c.right {
				line.WriteString(pad + c.text)
			} else {
				line.WriteString(c.text + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
	}
	return b.String()
}
