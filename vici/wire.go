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
	// MaxNameLen is the longest element, command or event name. Element
	// names may be empty (charon names its global counters section ""),
	// command and event names may not.
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

// smallSection is the entry count up to which duplicate keys are found
// without a map.
const smallSection = 64

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
	*m = *dec
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

// checkName reports why name cannot be a command or event name, or ""
// when it can.
func checkName(name string) string {
	if len(name) == 0 {
		return "empty name"
	}
	return checkElementName(name)
}

// checkElementName reports why name cannot be the name of a message
// element, or "" when it can. The empty name is valid: charon sends one.
func checkElementName(name string) string {
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
		if why := checkElementName(e.Name); why != "" {
			return 0, pathError(*path, printableName(e.Name), "%s", why)
		}
		n := 2 + len(e.Name) // type, name length, name
		switch e.Kind {
		case KindValue:
			if len(e.Value) > MaxValueLen {
				return 0, pathError(*path, printableName(e.Name), "value of %d bytes exceeds the %d byte limit", len(e.Value), MaxValueLen)
			}
			n += 2 + len(e.Value)
		case KindList:
			for j, it := range e.List {
				if len(it) > MaxValueLen {
					return 0, pathError(*path, printableName(e.Name)+"["+strconv.Itoa(j)+"]", "list item of %d bytes exceeds the %d byte limit", len(it), MaxValueLen)
				}
				n += 3 + len(it)
			}
			n++ // list end
		case KindSection:
			if depth+1 > MaxDepth {
				return 0, pathError(*path, printableName(e.Name), "sections nest deeper than %d levels", MaxDepth)
			}
			*path = append(*path, printableName(e.Name))
			sub, err := sizeSection(e.Section, depth+1, path, limit-total)
			*path = (*path)[:len(*path)-1]
			if err != nil {
				return 0, err
			}
			n += sub + 1 // section end
		default:
			return 0, pathError(*path, printableName(e.Name), "entry has invalid kind %v", e.Kind)
		}
		total += n
		if total > limit {
			return 0, pathError(*path, printableName(e.Name), "message exceeds the %d byte packet limit", MaxPacketSize)
		}
	}
	return total, nil
}

// printableName labels a name in an error path: quoted when it is empty
// or not printable, so that every path segment is visible.
func printableName(name string) string {
	if name != "" && checkElementName(name) == "" {
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
	entries := m.Entries()
	for i := range entries {
		e := &entries[i]
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
