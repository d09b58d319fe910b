// Package textdiff writes the difference between two texts as a unified
// diff (what diff -u prints), line by line, with three lines of context.
// It finds a shortest edit script with Myers' O(ND) algorithm, which is
// quick for the small differences it is used for (a file and its
// formatted form).
package textdiff

import (
	"bytes"
	"fmt"
	"strings"
)

// context is how many unchanged lines surround a change.
const context = 3

// Unified returns the unified diff turning old (named oldName in the
// header) into new (newName), or nil when they are equal. A last line
// without a newline is marked as diff marks it.
func Unified(oldName, newName string, old, new []byte) []byte {
	if bytes.Equal(old, new) {
		return nil
	}
	a, b := lines(old), lines(new)
	ops := script(a, b)
	var out bytes.Buffer
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", oldName, newName)
	// Group the edits into hunks: runs of changes closer than
	// 2*context equal lines apart.
	for i := 0; i < len(ops); {
		if ops[i].kind == equal {
			i++
			continue
		}
		startOp := max(i-context, 0)
		j := i
		for j < len(ops) {
			if ops[j].kind != equal {
				j++
				continue
			}
			k := j
			for k < len(ops) && ops[k].kind == equal {
				k++
			}
			if k == len(ops) || k-j > 2*context {
				break
			}
			j = k
		}
		endOp := min(j+context, len(ops))
		hunk(&out, a, b, ops[startOp:endOp])
		i = endOp
	}
	return out.Bytes()
}

// hunk writes one hunk of ops.
func hunk(out *bytes.Buffer, a, b []string, ops []op) {
	var na, nb int
	for _, o := range ops {
		if o.kind != insert {
			na++
		}
		if o.kind != delete {
			nb++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", span(ops[0].ai, na), span(ops[0].bi, nb))
	for _, o := range ops {
		switch o.kind {
		case equal:
			line(out, " ", a[o.ai])
		case delete:
			line(out, "-", a[o.ai])
		case insert:
			line(out, "+", b[o.bi])
		}
	}
}

// span writes a hunk's range as diff does: start,count (1-based; for no
// lines, the line before).
func span(i, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", i)
	case 1:
		return fmt.Sprint(i + 1)
	}
	return fmt.Sprintf("%d,%d", i+1, n)
}

func line(out *bytes.Buffer, prefix, s string) {
	out.WriteString(prefix)
	out.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		out.WriteString("\n\\ No newline at end of file\n")
	}
}

// lines splits text into lines, each with its newline.
func lines(text []byte) []string {
	var ls []string
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n') + 1
		if i == 0 {
			i = len(text)
		}
		ls = append(ls, string(text[:i]))
		text = text[i:]
	}
	return ls
}

type opKind int

const (
	equal opKind = iota
	delete
	insert
)

// An op is one step of an edit script: keep a[ai] (= b[bi]), delete
// a[ai], or insert b[bi]. ai and bi are where the step is in both texts.
type op struct {
	kind   opKind
	ai, bi int
}

// script returns a shortest edit script turning a into b (Myers 1986:
// greedy forward search over diagonals, then a walk back through the
// saved frontiers).
func script(a, b []string) []op {
	n, m := len(a), len(b)
	offset := n + m
	v := make([]int, 2*offset+2)
	var trace [][]int
	for d := 0; d <= n+m; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[offset+k-1] < v[offset+k+1] {
				x = v[offset+k+1] // down: an insertion
			} else {
				x = v[offset+k-1] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x, y = x+1, y+1
			}
			v[offset+k] = x
			if x >= n && y >= m {
				return backtrack(trace, offset, n, m)
			}
		}
	}
	panic("textdiff: no edit script") // unreachable: d = n+m always reaches the end
}

// backtrack walks the frontiers saved before each round d back from
// (n, m) and returns the edit script in order.
func backtrack(trace [][]int, offset, n, m int) []op {
	var ops []op
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		v := trace[d]
		k := x - y
		var prevK int
		if k == -d || k != d && v[offset+k-1] < v[offset+k+1] {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := v[offset+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x, y = x-1, y-1
			ops = append(ops, op{equal, x, y})
		}
		if d > 0 {
			if x == prevX {
				y--
				ops = append(ops, op{insert, x, y})
			} else {
				x--
				ops = append(ops, op{delete, x, y})
			}
		}
	}
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	return ops
}
