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

// decoder turns one message encoding into a Message tree in a single pass.
// Values alias the input (capacity-limited, so appending to one never
// touches its neighbours); names are substrings of one string copy of the
// input. Entries, messages and list item slices come from slabs, so a
// message costs a handful of allocations however many elements it has.
type decoder struct {
	b     []byte
	s     string // string(b), for allocation-free names
	i     int
	open  []openSection
	ents  []Entry  // entries of the open sections, innermost last
	items [][]byte // items of the open list
	maps  []map[string]struct{}
	// rootSeen indexes the root section's names once it is large.
	rootSeen map[string]struct{}

	entSlab  []Entry
	msgSlab  []Message
	itemSlab [][]byte
}

type openSection struct {
	name  string
	start int // index in ents of its first entry
	seen  map[string]struct{}
}

// decodeMessage decodes b. The result's values alias b.
func decodeMessage(b []byte) (*Message, error) {
	d := decoder{b: b, s: string(b)}
	return d.decode()
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
	if why := checkName(name); why != "" {
		return "", d.fail(printableName(name), "%s", why)
	}
	d.i += n
	return name, nil
}

// value reads a length-prefixed value. item is the index of a list item,
// or -1 for a key's value; it only names the element in an error.
func (d *decoder) value(name string, item int) ([]byte, error) {
	if d.i+2 > len(d.b) {
		return nil, d.fail(itemName(name, item), "truncated: value length missing")
	}
	n := int(d.b[d.i])<<8 | int(d.b[d.i+1])
	d.i += 2
	if d.i+n > len(d.b) {
		return nil, d.fail(itemName(name, item), "truncated: value of %d bytes, %d left", n, len(d.b)-d.i)
	}
	v := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return v, nil
}

func itemName(name string, item int) string {
	if item < 0 {
		return name
	}
	return name + "[" + strconv.Itoa(item) + "]"
}

// addEntry appends e to the innermost open section, refusing duplicates.
func (d *decoder) addEntry(e Entry) error {
	start, seen := 0, &d.rootSeen
	if n := len(d.open); n > 0 {
		start, seen = d.open[n-1].start, &d.open[n-1].seen
	}
	if *seen != nil {
		return d.addSeen(seen, e)
	}
	sec := d.ents[start:]
	for i := range sec {
		if sec[i].Name == e.Name {
			return d.fail(e.Name, "duplicate key in section")
		}
	}
	if len(sec) >= smallSection {
		m := d.newMap()
		for i := range sec {
			m[sec[i].Name] = struct{}{}
		}
		m[e.Name] = struct{}{}
		*seen = m
	}
	d.ents = append(d.ents, e)
	return nil
}

func (d *decoder) addSeen(seen *map[string]struct{}, e Entry) error {
	if _, dup := (*seen)[e.Name]; dup {
		return d.fail(e.Name, "duplicate key in section")
	}
	(*seen)[e.Name] = struct{}{}
	d.ents = append(d.ents, e)
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

func (d *decoder) freeMap(m map[string]struct{}) {
	if m != nil {
		clear(m)
		d.maps = append(d.maps, m)
	}
}

// finish moves the entries from start on into an exactly sized slab slice.
func (d *decoder) finish(start int) *Message {
	n := len(d.ents) - start
	if len(d.msgSlab) == cap(d.msgSlab) {
		d.msgSlab = make([]Message, 0, slabSize(cap(d.msgSlab), 1))
	}
	d.msgSlab = d.msgSlab[:len(d.msgSlab)+1]
	m := &d.msgSlab[len(d.msgSlab)-1]
	if n > 0 {
		if cap(d.entSlab)-len(d.entSlab) < n {
			d.entSlab = make([]Entry, 0, slabSize(cap(d.entSlab), n))
		}
		k := len(d.entSlab)
		d.entSlab = append(d.entSlab, d.ents[start:]...)
		m.entries = d.entSlab[k : k+n : k+n]
	}
	d.ents = d.ents[:start]
	return m
}

func (d *decoder) finishList(start int) [][]byte {
	n := len(d.items) - start
	if n == 0 {
		return [][]byte{}
	}
	if cap(d.itemSlab)-len(d.itemSlab) < n {
		d.itemSlab = make([][]byte, 0, slabSize(cap(d.itemSlab), n))
	}
	k := len(d.itemSlab)
	d.itemSlab = append(d.itemSlab, d.items[start:]...)
	d.items = d.items[:start]
	return d.itemSlab[k : k+n : k+n]
}

// slabSize picks the next slab capacity: doubling from 16, capped at 4096,
// never less than need.
func slabSize(prev, need int) int {
	n := min(max(2*prev, 16), 4096)
	return max(n, need)
}

func (d *decoder) decode() (*Message, error) {
	inList := false
	var listName string
	for d.i < len(d.b) {
		typ := d.b[d.i]
		d.i++
		switch typ {
		case elemSectionStart:
			if inList {
				return nil, d.fail(listName, "section start inside a list")
			}
			name, err := d.name()
			if err != nil {
				return nil, err
			}
			if len(d.open) >= MaxDepth {
				return nil, d.fail(name, "sections nest deeper than %d levels", MaxDepth)
			}
			// Reserve the name in the parent now, so a duplicate is
			// reported where it appears; the entry is filled at the end.
			if err := d.addEntry(Entry{Name: name, Kind: KindSection}); err != nil {
				return nil, err
			}
			d.open = append(d.open, openSection{name: name, start: len(d.ents)})
		case elemSectionEnd:
			if inList {
				return nil, d.fail(listName, "section end inside a list")
			}
			if len(d.open) == 0 {
				return nil, d.fail("", "section end without a section")
			}
			top := d.open[len(d.open)-1]
			d.freeMap(top.seen)
			m := d.finish(top.start)
			d.open = d.open[:len(d.open)-1]
			d.ents[len(d.ents)-1].Section = m
		case elemKeyValue:
			if inList {
				return nil, d.fail(listName, "key/value inside a list")
			}
			name, err := d.name()
			if err != nil {
				return nil, err
			}
			v, err := d.value(name, -1)
			if err != nil {
				return nil, err
			}
			if err := d.addEntry(Entry{Name: name, Kind: KindValue, Value: v}); err != nil {
				return nil, err
			}
		case elemListStart:
			if inList {
				return nil, d.fail(listName, "list start inside a list (lists never nest)")
			}
			name, err := d.name()
			if err != nil {
				return nil, err
			}
			if err := d.addEntry(Entry{Name: name, Kind: KindList}); err != nil {
				return nil, err
			}
			inList, listName = true, name
		case elemListItem:
			if !inList {
				return nil, d.fail("", "list item outside a list")
			}
			v, err := d.value(listName, len(d.items))
			if err != nil {
				return nil, err
			}
			d.items = append(d.items, v)
		case elemListEnd:
			if !inList {
				return nil, d.fail("", "list end without a list")
			}
			d.ents[len(d.ents)-1].List = d.finishList(0)
			inList = false
		default:
			d.i--
			return nil, d.fail("", "unknown element type %d", typ)
		}
	}
	if inList {
		return nil, d.fail(listName, "truncated: list not closed")
	}
	if len(d.open) > 0 {
		return nil, d.fail("", "truncated: %d section(s) not closed", len(d.open))
	}
	return d.finish(0), nil
}
