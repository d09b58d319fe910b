package vici

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Protocol limits, checked on encode and on decode.
const (
	// MaxPacketSize is the largest transport segment (packet type, name and
	// message) the daemon accepts or sends: 512 KiB.
	MaxPacketSize = 512 * 1024
	// MaxNameLen is the longest element, command or event name.
	MaxNameLen = 255
	// MaxValueLen is the longest value or list item.
	MaxValueLen = 65535
	// MaxDepth is how deeply sections may nest. The protocol sets no limit;
	// this one keeps a hostile peer from making the decoder build absurd
	// trees. charon's own messages nest at most five levels.
	MaxDepth = 64
)

// Message element types of the wire format.
const (
	elemSectionStart = 1
	elemSectionEnd   = 2
	elemKeyValue     = 3
	elemListStart    = 4
	elemListItem     = 5
	elemListEnd      = 6
)

// smallSection is the entry count up to which duplicate keys are found by
// scanning; larger sections use a map.
const smallSection = 24

// MarshalBinary encodes the message in the VICI wire format. Every limit is
// checked first, so a message that breaks one is never half-written; the
// error is a *ProtocolError naming the offending key path.
func (m *Message) MarshalBinary() ([]byte, error) {
	n, err := encodedLen(m, MaxPacketSize)
	if err != nil {
		return nil, err
	}
	return appendMessage(make([]byte, 0, n), m), nil
}

// UnmarshalBinary decodes b, replacing the message's contents. b is copied,
// so the caller may reuse it. On error the message is left unchanged and the
// error is a *ProtocolError.
func (m *Message) UnmarshalBinary(b []byte) error {
	if len(b) > MaxPacketSize {
		return &ProtocolError{Reason: fmt.Sprintf("message of %d bytes exceeds the %d byte limit", len(b), MaxPacketSize)}
	}
	own := make([]byte, len(b))
	copy(own, b)
	dec, err := decodeMessage(own)
	if err != nil {
		return err
	}
	m.entries = dec.entries
	return nil
}

// encodedLen validates m against every protocol limit and returns the
// length of its encoding. limit caps the encoded size.
func encodedLen(m *Message, limit int) (int, error) {
	var path []string
	n, err := sizeSection(m, 0, &path, limit)
	if err != nil {
		return 0, err
	}
	return n, nil
}

func pathError(path []string, name, format string, args ...any) *ProtocolError {
	p := strings.Join(path, ".")
	if name != "" {
		if p != "" {
			p += "."
		}
		p += name
	}
	return &ProtocolError{Path: p, Reason: fmt.Sprintf(format, args...)}
}

// checkName reports why name cannot be an element, command or event name,
// or "" when it can.
func checkName(name string) string {
	if len(name) == 0 {
		return "empty name"
	}
	if len(name) > MaxNameLen {
		return fmt.Sprintf("name of %d bytes exceeds the %d byte limit", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c > 0x7e {
			return fmt.Sprintf("name contains the non-printable byte 0x%02x at offset %d", c, i)
		}
	}
	return ""
}

// sizeSection checks one section's entries and returns their encoded size.
func sizeSection(m *Message, depth int, path *[]string, limit int) (int, error) {
	entries := m.Entries()
	if err := checkDuplicates(entries, *path); err != nil {
		return 0, err
	}
	total := 0
	for i := range entries {
		e := &entries[i]
		if why := checkName(e.Name); why != "" {
			return 0, pathError(*path, printableName(e.Name), "%s", why)
		}
		n := 2 + len(e.Name) // type, name length, name
		switch e.Kind {
		case KindValue:
			if len(e.Value) > MaxValueLen {
				return 0, pathError(*path, e.Name, "value of %d bytes exceeds the %d byte limit", len(e.Value), MaxValueLen)
			}
			n += 2 + len(e.Value)
		case KindList:
			for j, it := range e.List {
				if len(it) > MaxValueLen {
					return 0, pathError(*path, e.Name+"["+strconv.Itoa(j)+"]", "list item of %d bytes exceeds the %d byte limit", len(it), MaxValueLen)
				}
				n += 3 + len(it)
			}
			n++ // list end
		case KindSection:
			if depth+1 > MaxDepth {
				return 0, pathError(*path, e.Name, "sections nest deeper than %d levels", MaxDepth)
			}
			*path = append(*path, e.Name)
			sub, err := sizeSection(e.Section, depth+1, path, limit-total)
			*path = (*path)[:len(*path)-1]
			if err != nil {
				return 0, err
			}
			n += sub + 1 // section end
		default:
			return 0, pathError(*path, e.Name, "entry has invalid kind %v", e.Kind)
		}
		total += n
		if total > limit {
			return 0, pathError(*path, e.Name, "message exceeds the %d byte packet limit", MaxPacketSize)
		}
	}
	return total, nil
}

// printableName quotes a name for an error path when it is not printable.
func printableName(name string) string {
	if checkName(name) == "" {
		return name
	}
	if len(name) > 40 {
		return strconv.Quote(name[:40]) + "..."
	}
	return strconv.Quote(name)
}

func checkDuplicates(entries []Entry, path []string) error {
	if len(entries) <= smallSection {
		for i := 1; i < len(entries); i++ {
			for j := 0; j < i; j++ {
				if entries[i].Name == entries[j].Name {
					return pathError(path, printableName(entries[i].Name), "duplicate key in section")
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(entries))
	for i := range entries {
		if _, dup := seen[entries[i].Name]; dup {
			return pathError(path, printableName(entries[i].Name), "duplicate key in section")
		}
		seen[entries[i].Name] = struct{}{}
	}
	return nil
}

// appendMessage appends m's encoding to b. m must have passed encodedLen.
func appendMessage(b []byte, m *Message) []byte {
	for i := range m.Entries() {
		e := &m.entries[i]
		switch e.Kind {
		case KindValue:
			b = append(b, elemKeyValue, byte(len(e.Name)))
			b = append(b, e.Name...)
			b = binary.BigEndian.AppendUint16(b, uint16(len(e.Value)))
			b = append(b, e.Value...)
		case KindList:
			b = append(b, elemListStart, byte(len(e.Name)))
			b = append(b, e.Name...)
			for _, it := range e.List {
				b = append(b, elemListItem)
				b = binary.BigEndian.AppendUint16(b, uint16(len(it)))
				b = append(b, it...)
			}
			b = append(b, elemListEnd)
		case KindSection:
			b = append(b, elemSectionStart, byte(len(e.Name)))
			b = append(b, e.Name...)
			if e.Section != nil {
				b = appendMessage(b, e.Section)
			}
			b = append(b, elemSectionEnd)
		}
	}
	return b
}

// decoder turns one message encoding into a Message tree. A first scan
// checks everything (structure, names, duplicate keys, depth) and counts
// the entries of each section and the items of each list; the build pass
// then writes every entry once into exactly sized storage: one slab each
// of entries, messages and list items, whatever the message's size.
// Values alias the input (capacity-limited, so appending to one never
// touches its neighbours); names are substrings of one string copy of the
// input. Nothing is handed out unless the whole input is valid.
type decoder struct {
	b []byte
	s string // string(b), for allocation-free names
	i int

	// scan state
	root      openSection // the implicit root section
	open      []openSection
	names     []string // names of the open sections' entries, innermost last
	maps      []map[string]struct{}
	counts    []int32 // entries per section, in order of opening; root first
	lists     []int32 // items per list, in order
	nEntries  int
	nSections int
	nItems    int
}

type openSection struct {
	name  string
	index int // in counts
	start int // index in names of its first entry

	filter [2]uint64           // hashes of the names seen (small sections)
	seen   map[string]struct{} // the names seen (large sections)
}

// decodeMessage decodes b. The result's values alias b.
func decodeMessage(b []byte) (*Message, error) {
	// Scratch space on the stack for typical messages.
	var (
		open   [8]openSection
		names  [64]string
		counts [32]int32
		lists  [32]int32
	)
	d := decoder{b: b, s: string(b), open: open[:0], names: names[:0], counts: counts[:0], lists: lists[:0]}
	if err := d.scan(); err != nil {
		return nil, err
	}
	return d.build(), nil
}

func (d *decoder) path() []string {
	p := make([]string, len(d.open))
	for i, o := range d.open {
		p[i] = o.name
	}
	return p
}

func (d *decoder) fail(name, format string, args ...any) error {
	err := pathError(d.path(), name, format, args...)
	err.Reason += fmt.Sprintf(" (at byte %d)", d.i)
	return err
}

func (d *decoder) name() (string, error) {
	if d.i >= len(d.b) {
		return "", d.fail("", "truncated: element name length missing")
	}
	n := int(d.b[d.i])
	d.i++
	if d.i+n > len(d.b) {
		return "", d.fail("", "truncated: element name of %d bytes, %d left", n, len(d.b)-d.i)
	}
	name := d.s[d.i : d.i+n]
	if n == 0 {
		return "", d.fail(`""`, "empty name")
	}
	for _, c := range d.b[d.i : d.i+n] {
		if c-0x20 > 0x7e-0x20 { // outside 0x20..0x7e
			return "", d.fail(printableName(name), "%s", checkName(name))
		}
	}
	d.i += n
	return name, nil
}

// skipValue checks a length-prefixed value. item is the index of a list
// item, or -1 for a key's value; it only names the element in an error.
func (d *decoder) skipValue(name string, item int) error {
	if d.i+2 > len(d.b) {
		return d.fail(itemName(name, item), "truncated: value length missing")
	}
	n := int(d.b[d.i])<<8 | int(d.b[d.i+1])
	d.i += 2
	if d.i+n > len(d.b) {
		return d.fail(itemName(name, item), "truncated: value of %d bytes, %d left", n, len(d.b)-d.i)
	}
	d.i += n
	return nil
}

func itemName(name string, item int) string {
	if item < 0 {
		return name
	}
	return name + "[" + strconv.Itoa(item) + "]"
}

// addName records an entry of the innermost open section (the root when
// none is open), refusing duplicates. Small sections keep a 128-bit filter
// of name hashes and compare names only when the filter has seen the hash;
// large ones switch to a map.
func (d *decoder) addName(name string) error {
	o := &d.root
	if n := len(d.open); n > 0 {
		o = &d.open[n-1]
	}
	if o.seen != nil {
		if _, dup := o.seen[name]; dup {
			return d.fail(name, "duplicate key in section")
		}
		o.seen[name] = struct{}{}
	} else {
		// A cheap hash: length and three bytes (names are never empty).
		h := (uint32(len(name)) | uint32(name[0])<<8 | uint32(name[len(name)/2])<<16 | uint32(name[len(name)-1])<<24) * 0x9e3779b1
		bit := uint64(1) << (h >> 26)
		w := (h >> 25) & 1
		sec := d.names[o.start:]
		if o.filter[w]&bit != 0 {
			for _, other := range sec {
				if other == name {
					return d.fail(name, "duplicate key in section")
				}
			}
		}
		o.filter[w] |= bit
		if len(sec) >= smallSection {
			m := d.newMap()
			for _, other := range sec {
				m[other] = struct{}{}
			}
			m[name] = struct{}{}
			o.seen = m
		}
	}
	d.names = append(d.names, name)
	d.counts[o.index]++
	d.nEntries++
	return nil
}

func (d *decoder) newMap() map[string]struct{} {
	if n := len(d.maps); n > 0 {
		m := d.maps[n-1]
		d.maps = d.maps[:n-1]
		return m
	}
	return make(map[string]struct{}, 2*smallSection)
}

// scan validates the whole input and counts what build will need.
func (d *decoder) scan() error {
	d.counts = append(d.counts, 0) // the root section
	d.nSections = 1
	inList := false
	var listName string
	for d.i < len(d.b) {
		typ := d.b[d.i]
		d.i++
		switch typ {
		case elemSectionStart:
			if inList {
				return d.fail(listName, "section start inside a list")
			}
			name, err := d.name()
			if err != nil {
				return err
			}
			if len(d.open) >= MaxDepth {
				return d.fail(name, "sections nest deeper than %d levels", MaxDepth)
			}
			if err := d.addName(name); err != nil {
				return err
			}
			d.open = append(d.open, openSection{name: name, index: len(d.counts), start: len(d.names)})
			d.counts = append(d.counts, 0)
			d.nSections++
		case elemSectionEnd:
			if inList {
				return d.fail(listName, "section end inside a list")
			}
			if len(d.open) == 0 {
				return d.fail("", "section end without a section")
			}
			top := d.open[len(d.open)-1]
			if top.seen != nil {
				clear(top.seen)
				d.maps = append(d.maps, top.seen)
			}
			d.names = d.names[:top.start]
			d.open = d.open[:len(d.open)-1]
		case elemKeyValue:
			if inList {
				return d.fail(listName, "key/value inside a list")
			}
			name, err := d.name()
			if err != nil {
				return err
			}
			if err := d.skipValue(name, -1); err != nil {
				return err
			}
			if err := d.addName(name); err != nil {
				return err
			}
		case elemListStart:
			if inList {
				return d.fail(listName, "list start inside a list (lists never nest)")
			}
			name, err := d.name()
			if err != nil {
				return err
			}
			if err := d.addName(name); err != nil {
				return err
			}
			inList, listName = true, name
			d.lists = append(d.lists, 0)
		case elemListItem:
			if !inList {
				return d.fail("", "list item outside a list")
			}
			n := &d.lists[len(d.lists)-1]
			if err := d.skipValue(listName, int(*n)); err != nil {
				return err
			}
			*n++
			d.nItems++
		case elemListEnd:
			if !inList {
				return d.fail("", "list end without a list")
			}
			inList = false
		default:
			d.i--
			return d.fail("", "unknown element type %d", typ)
		}
	}
	if inList {
		return d.fail(listName, "truncated: list not closed")
	}
	if len(d.open) > 0 {
		return d.fail("", "truncated: %d section(s) not closed", len(d.open))
	}
	return nil
}

// build makes the tree from input scan has accepted; it checks nothing.
func (d *decoder) build() *Message {
	b, s := d.b, d.s
	ents := make([]Entry, d.nEntries)
	msgs := make([]Message, d.nSections)
	var items [][]byte
	if d.nItems > 0 {
		items = make([][]byte, d.nItems)
	}
	nextEnt, nextMsg, nextList := 0, 0, 0
	section := func() *Message {
		m := &msgs[nextMsg]
		n := int(d.counts[nextMsg])
		nextMsg++
		if n > 0 {
			m.entries = ents[nextEnt : nextEnt+n : nextEnt+n]
			nextEnt += n
		}
		return m
	}
	root := section()
	type level struct {
		m    *Message
		fill int
	}
	stack := make([]level, 1, 8)
	stack[0] = level{m: root}
	var list *Entry
	for i := 0; i < len(b); {
		typ := b[i]
		i++
		switch typ {
		case elemSectionEnd:
			stack = stack[:len(stack)-1]
			continue
		case elemListItem:
			n := int(b[i])<<8 | int(b[i+1])
			i += 2
			list.List = append(list.List, b[i:i+n:i+n])
			i += n
			continue
		case elemListEnd:
			list = nil
			continue
		}
		// A named element: section start, key/value or list start.
		top := &stack[len(stack)-1]
		e := &top.m.entries[top.fill]
		top.fill++
		n := int(b[i])
		e.Name = s[i+1 : i+1+n]
		i += 1 + n
		switch typ {
		case elemSectionStart:
			e.Kind = KindSection
			e.Section = section()
			stack = append(stack, level{m: e.Section})
		case elemKeyValue:
			e.Kind = KindValue
			n := int(b[i])<<8 | int(b[i+1])
			i += 2
			e.Value = b[i : i+n : i+n]
			i += n
		case elemListStart:
			e.Kind = KindList
			k := int(d.lists[nextList])
			nextList++
			e.List = items[:0:k]
			items = items[k:]
			list = e
		}
	}
	return root
}
