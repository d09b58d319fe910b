package starlarkvici

import (
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// FromMessage converts a VICI message to a new, unfrozen Starlark dict:
// sections become dicts in wire order, lists become lists and values
// strings, or bytes when a value is not valid UTF-8.
func FromMessage(m *vici.Message) *starlark.Dict {
	var c fromConverter
	return c.dict(m)
}

// internSlots is the size of a fromConverter's table of interned
// strings, a power of two.
const internSlots = 1024

// internLen is the longest string a fromConverter interns.
const internLen = 64

// fromConverter converts messages to Starlark values straight from their
// bytes (a vici.Cursor), building nothing in between. A streamed listing
// repeats the same names and many of the same values (states, modes,
// algorithms) in every entry: one converter serves a whole command, and
// short strings are interned, so that each distinct one is mostly a single
// immutable Starlark value, made once. The table is direct-mapped: a
// string evicts the one whose slot it hashes to, so its size is fixed and
// a lookup is one hash and one comparison. The zero fromConverter is ready
// to use; it is not safe for concurrent use.
type fromConverter struct {
	slots *[internSlots]internSlot
	raw   [][]byte // the items of the list being converted (views), reused
	// made is about how many bytes the values made so far take (the
	// listing budget counts with it): measured on go.starlark.net's
	// dicts, lists and strings, within about 10% for every shape of entry
	// tried (see TestConvertedSize).
	made int
}

// Memory the converted values take, for fromConverter.made: the sizes
// of go.starlark.net's structures.
const (
	dictBytes   = 512 // a dict, with one bucket of 8 entries inline
	bucketBytes = 456 // each bucket of a larger dict's table
	listBytes   = 32
	valueBytes  = 16 // a string's header in a Value, a list's item
)

// dictSize is the memory of a dict made for n entries: go.starlark.net
// gives it a table of the least power of two buckets that holds n at a
// load of 6.5 entries a bucket, when one bucket does not.
func dictSize(n int) int {
	nb := 1
	for n >= 8 && float64(n) >= 6.5*float64(nb) {
		nb <<= 1
	}
	if nb < 2 {
		return dictBytes
	}
	return dictBytes + allocated(nb*bucketBytes)
}

// allocated is about what Go's allocator hands out for n bytes: its size
// classes are up to an eighth apart.
func allocated(n int) int {
	if n <= 16 {
		return (n + 7) &^ 7
	}
	step := 1 << (bits.Len(uint(n-1)) - 3)
	return (n + step - 1) / step * step
}

type internSlot struct {
	s string
	v starlark.Value
}

// dict converts one section.
func (c *fromConverter) dict(m *vici.Message) *starlark.Dict {
	n := m.Len()
	if n == 8 {
		// NewDict sizes for 8 entries with a second bucket table that
		// the eight inserts themselves would not need.
		n = 7
	}
	d := starlark.NewDict(n)
	c.made += dictSize(n)
	cur := m.Cursor()
	var e vici.Element
	for cur.Next(&e) {
		var v starlark.Value
		switch e.Kind {
		case vici.KindSection:
			v = c.dict(e.Section)
		case vici.KindList:
			var items []starlark.Value
			if e.Len() > 0 {
				c.raw = e.AppendItems(c.raw[:0])
				items = make([]starlark.Value, len(c.raw))
				for i, it := range c.raw {
					items[i] = c.value(it)
				}
			}
			v = starlark.NewList(items)
			c.made += listBytes + allocated(valueBytes*len(items))
		default:
			v = c.value(e.Value)
		}
		_ = d.SetKey(c.str(e.Name), v) // fresh unfrozen dict with str keys: cannot fail
	}
	return d
}

// slot returns the table slot of s, or nil when s is too long to intern.
func slot[T string | []byte](c *fromConverter, s T) *internSlot {
	if len(s) > internLen {
		return nil
	}
	if c.slots == nil {
		c.slots = new([internSlots]internSlot)
	}
	h := uint32(len(s))
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 0x01000193 // FNV-1a
	}
	return &c.slots[h&(internSlots-1)]
}

// str returns the name s as a Starlark string. s may be a view of a
// message's bytes: the value made holds a copy, so that it does not keep
// the whole packet alive.
func (c *fromConverter) str(s string) starlark.Value {
	sl := slot(c, s)
	if sl != nil && sl.v != nil && sl.s == s {
		return sl.v
	}
	s = strings.Clone(s)
	v := starlark.Value(starlark.String(s))
	c.made += valueBytes + allocated(len(s))
	if sl != nil {
		*sl = internSlot{s, v}
	}
	return v
}

// value returns b as a Starlark string, or bytes when it is not UTF-8.
func (c *fromConverter) value(b []byte) starlark.Value {
	sl := slot(c, b)
	if sl != nil && sl.v != nil && sl.s == string(b) { // the comparison does not allocate
		return sl.v
	}
	c.made += valueBytes + allocated(len(b))
	if !utf8.Valid(b) {
		return starlark.Bytes(b)
	}
	s := string(b)
	v := starlark.Value(starlark.String(s))
	if sl != nil {
		*sl = internSlot{s, v}
	}
	return v
}
