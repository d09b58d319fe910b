package vici

import (
	"fmt"
	"iter"
	"math"
	"unsafe"
)

// Kind says what an entry of a Message holds.
type Kind uint8

// The kinds of entry a message section can hold.
const (
	KindValue   Kind = iota + 1 // a key with one value
	KindList                    // a key with a list of values
	KindSection                 // a key with a nested section
)

func (k Kind) String() string {
	switch k {
	case KindValue:
		return "value"
	case KindList:
		return "list"
	case KindSection:
		return "section"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Entry is one named element of a section: a value, a list or a sub-section.
// Exactly one of Value, List or Section is meaningful, as Kind says.
type Entry struct {
	Name    string
	Kind    Kind
	Value   []byte
	List    [][]byte
	Section *Message
}

// Message is an ordered tree of sections, key/values and lists: the body of
// a command request, a command response or an event. Entries keep the order
// they were added or decoded in, and values are raw bytes. The zero Message
// is empty and ready to use. A Message is not safe for concurrent mutation;
// reading it from several goroutines at once is safe.
type Message struct {
	entries []Entry
	// A decoded message reads its entries from the decoded bytes until it
	// is changed (see own); t is nil for any other message.
	t                             *tree
	sec, first, count, start, end int32 // see decoder.decode
	skip                          int32
}

// own gives a decoded message its own entries before a change.
func (m *Message) own() {
	if m.t != nil {
		m.entries = m.Entries()
		m.t = nil
	}
}

// Element is one top-level entry of a message as All yields it: a value,
// a list or a sub-section, as Kind says. Name, Value and the list items
// are views of the message's memory, made without copying or allocating:
// they stay valid as long as the message does and must not be modified.
type Element struct {
	Name    string
	Kind    Kind
	Value   []byte   // KindValue
	Section *Message // KindSection

	// A list's items: in list (a built message), or encoded at the start
	// of buf (a decoded one); n of them.
	list [][]byte
	buf  []byte
	n    int
}

// Len reports how many items a list has.
func (e Element) Len() int { return e.n }

// Items yields the items of a list in order.
func (e Element) Items() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if e.buf == nil {
			for _, it := range e.list {
				if !yield(it) {
					return
				}
			}
			return
		}
		for at := 0; e.buf[at] == elemListItem; {
			v := valueAt(e.buf, at+1)
			if !yield(v) {
				return
			}
			at += 3 + len(v)
		}
	}
}

// appendItems appends the list's items to dst.
func (e Element) appendItems(dst [][]byte) [][]byte {
	if e.buf == nil {
		return append(dst, e.list...)
	}
	for it := range e.Items() {
		dst = append(dst, it)
	}
	return dst
}

// entry returns e as an Entry.
func (e Element) entry() Entry {
	out := Entry{Name: e.Name, Kind: e.Kind, Value: e.Value, Section: e.Section}
	if e.Kind == KindList {
		if e.buf == nil {
			out.List = e.list
		} else {
			out.List = e.appendItems(make([][]byte, 0, e.n))
		}
	}
	return out
}

// All yields the top-level entries in order. It is the one way every
// reader of a message walks it: on a decoded message it reads the packet
// bytes in place and allocates nothing.
func (m *Message) All() iter.Seq[Element] {
	return func(yield func(Element) bool) {
		c := m.Cursor()
		var e Element
		for c.Next(&e) {
			if !yield(e) {
				return
			}
		}
	}
}

// Cursor walks the top-level entries of a message in order, as All does,
// for the loops that convert whole messages: Next fills in an Element the
// caller holds rather than yielding a copy of one. The zero Cursor has no
// entries.
type Cursor struct {
	m *Message
	c cursor // a decoded message's
	i int    // the next entry of a built one
}

// Cursor returns a cursor at the first top-level entry of m.
func (m *Message) Cursor() Cursor {
	if m == nil {
		return Cursor{}
	}
	if m.t != nil {
		return Cursor{m: m, c: m.cursor()}
	}
	return Cursor{m: m}
}

// Next sets e to the next entry and reports whether there was one.
func (c *Cursor) Next(e *Element) bool {
	switch {
	case c.m == nil:
		return false
	case c.c.t != nil:
		return c.c.next(e)
	case c.i < len(c.m.entries):
		en := &c.m.entries[c.i]
		c.i++
		*e = Element{Name: en.Name, Kind: en.Kind, Value: en.Value, Section: en.Section, list: en.List, n: len(en.List)}
		return true
	}
	return false
}

// AppendItems appends the items of a list to dst and returns the result.
func (e Element) AppendItems(dst [][]byte) [][]byte { return e.appendItems(dst) }

// find returns the entry named name.
func (m *Message) find(name string) (Element, bool) {
	for e := range m.All() {
		if e.Name == name {
			return e, true
		}
	}
	return Element{}, false
}

// Size returns the length of m's encoding in bytes: for a received
// message, what it took on the wire (a sub-section: its elements, without
// its name and delimiters). Budgets on received data count with it. A
// built message that breaks a protocol limit counts 0.
func (m *Message) Size() int {
	if m.t != nil {
		return int(m.end - m.start)
	}
	n, _ := encodedLen(m, math.MaxInt)
	return n
}

// MemSize returns about how many bytes m keeps in memory: for a received
// message its encoding plus the index decoding built (one Message per
// section), for a built one the length of its encoding. Budgets on
// messages held for later count with it (Options.MaxQueuedBytes).
func (m *Message) MemSize() int {
	if m.t == nil {
		return m.Size()
	}
	return m.Size() + int(m.skip)*int(unsafe.Sizeof(Message{}))
}

// NewMessage returns an empty message.
func NewMessage() *Message { return &Message{} }

// Len reports how many entries the section holds at its top level.
func (m *Message) Len() int {
	if m == nil {
		return 0
	}
	if m.t != nil {
		return int(m.count)
	}
	return len(m.entries)
}

// Entries returns the top-level entries in order. The slice is the
// message's own: callers must not modify it. On a decoded message the
// first call builds the Entry values of every section at once; All walks
// without building them.
func (m *Message) Entries() []Entry {
	if m == nil {
		return nil
	}
	if m.t != nil {
		if m.count == 0 {
			return nil
		}
		all := m.t.entries()
		return all[m.first : m.first+m.count : m.first+m.count]
	}
	return m.entries
}

// Keys returns the top-level names in order.
func (m *Message) Keys() []string {
	keys := make([]string, 0, m.Len())
	for e := range m.All() {
		keys = append(keys, e.Name)
	}
	return keys
}

// Lookup returns the entry named name.
func (m *Message) Lookup(name string) (Entry, bool) {
	e, ok := m.find(name)
	if !ok {
		return Entry{}, false
	}
	return e.entry(), true
}

// Has reports whether the section has an entry named name.
func (m *Message) Has(name string) bool {
	_, ok := m.find(name)
	return ok
}

// Get returns the value of key name as a string, or "" if there is no such
// key or it is not a plain value.
func (m *Message) Get(name string) string {
	if e, ok := m.find(name); ok && e.Kind == KindValue {
		return string(e.Value)
	}
	return ""
}

// List returns the items of list name as strings, or nil.
func (m *Message) List(name string) []string {
	e, ok := m.find(name)
	if !ok || e.Kind != KindList {
		return nil
	}
	out := make([]string, 0, e.n)
	for it := range e.Items() {
		out = append(out, string(it))
	}
	return out
}

// Section returns the sub-section name, or nil.
func (m *Message) Section(name string) *Message {
	if e, ok := m.find(name); ok && e.Kind == KindSection {
		return e.Section
	}
	return nil
}

// set replaces the entry of the same name in place, or appends e.
func (m *Message) set(e Entry) *Message {
	m.own()
	for i := range m.entries {
		if m.entries[i].Name == e.Name {
			m.entries[i] = e
			return m
		}
	}
	m.entries = append(m.entries, e)
	return m
}

// Set sets key name to a string value. An existing entry of that name keeps
// its position. Set returns m so calls can be chained.
func (m *Message) Set(name, value string) *Message {
	return m.set(Entry{Name: name, Kind: KindValue, Value: []byte(value)})
}

// SetBytes sets key name to a raw value.
func (m *Message) SetBytes(name string, value []byte) *Message {
	return m.set(Entry{Name: name, Kind: KindValue, Value: value})
}

// SetList sets key name to a list of string items. An empty list is kept.
func (m *Message) SetList(name string, items ...string) *Message {
	list := make([][]byte, len(items))
	for i, it := range items {
		list[i] = []byte(it)
	}
	return m.set(Entry{Name: name, Kind: KindList, List: list})
}

// SetBytesList sets key name to a list of raw items.
func (m *Message) SetBytesList(name string, items [][]byte) *Message {
	if items == nil {
		items = [][]byte{}
	}
	return m.set(Entry{Name: name, Kind: KindList, List: items})
}

// SetSection sets key name to a sub-section. A nil section is stored empty.
func (m *Message) SetSection(name string, section *Message) *Message {
	if section == nil {
		section = NewMessage()
	}
	return m.set(Entry{Name: name, Kind: KindSection, Section: section})
}

// SetFlag sets key name to "yes" when on and removes it when off: the daemon
// treats presence-only keys (noblock, drop, pass, trap) as on whatever their
// value, so "off" must mean "key omitted".
func (m *Message) SetFlag(name string, on bool) *Message {
	if on {
		return m.Set(name, "yes")
	}
	m.Delete(name)
	return m
}

// Delete removes key name if present.
func (m *Message) Delete(name string) {
	m.own()
	for i := range m.entries {
		if m.entries[i].Name == name {
			m.entries = append(m.entries[:i], m.entries[i+1:]...)
			return
		}
	}
}

// Append adds e at the end without checking for an existing entry of the
// same name; Encode reports duplicates. It is meant for decoders and tests.
func (m *Message) Append(e Entry) {
	m.own()
	m.entries = append(m.entries, e)
}
