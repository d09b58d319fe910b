package recording

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/vicish/vicish/vici"
)

// binaryKey marks a value that is not UTF-8 text: {"$base64": "..."}.
const binaryKey = "$base64"

// encodeMessage writes m as a JSON object whose members keep the
// message's order: a section is an object, a list an array, a value a
// string (or {"$base64": ...} when it is not UTF-8), each value passed
// through redact first.
func encodeMessage(b *bytes.Buffer, m *vici.Message, redact func(string) string) {
	b.WriteByte('{')
	for i, e := range m.Entries() {
		if i > 0 {
			b.WriteByte(',')
		}
		encodeString(b, e.Name)
		b.WriteByte(':')
		switch e.Kind {
		case vici.KindSection:
			encodeMessage(b, e.Section, redact)
		case vici.KindList:
			b.WriteByte('[')
			for j, v := range e.List {
				if j > 0 {
					b.WriteByte(',')
				}
				encodeValue(b, v, redact)
			}
			b.WriteByte(']')
		default:
			encodeValue(b, e.Value, redact)
		}
	}
	b.WriteByte('}')
}

func encodeValue(b *bytes.Buffer, v []byte, redact func(string) string) {
	if !utf8.Valid(v) {
		b.WriteString(`{"` + binaryKey + `":`)
		encodeString(b, base64.StdEncoding.EncodeToString(v))
		b.WriteByte('}')
		return
	}
	encodeString(b, redact(string(v)))
}

// encodeString writes s as a JSON string, <, > and & as they are.
func encodeString(b *bytes.Buffer, s string) {
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	e.Encode(s)             // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}

// decodeMessage reads a message written by encodeMessage from raw JSON.
func decodeMessage(raw json.RawMessage) (*vici.Message, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	if err := expectDelim(d, '{'); err != nil {
		return nil, err
	}
	return decodeSection(d)
}

// decodeSection reads the members of an object whose '{' was read.
func decodeSection(d *json.Decoder) (*vici.Message, error) {
	m := vici.NewMessage()
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("want a member name, got %v", tok)
		}
		tok, err = d.Token()
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case string:
			m.Set(name, tok)
		case json.Delim:
			switch tok {
			case '[':
				var items [][]byte
				for d.More() {
					v, err := decodeValue(d)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", name, err)
					}
					items = append(items, v)
				}
				if err := expectDelim(d, ']'); err != nil {
					return nil, err
				}
				m.SetBytesList(name, items)
			case '{':
				sec, bin, err := decodeObject(d)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				if bin != nil {
					m.SetBytes(name, bin)
				} else {
					m.SetSection(name, sec)
				}
			default:
				return nil, fmt.Errorf("%s: unexpected %v", name, tok)
			}
		default:
			return nil, fmt.Errorf("%s: got %v, want a string, list or section", name, tok)
		}
	}
	return m, expectDelim(d, '}')
}

// decodeObject reads an object whose '{' was read: a binary value or a
// section.
func decodeObject(d *json.Decoder) (*vici.Message, []byte, error) {
	sec, err := decodeSection(d)
	if err != nil {
		return nil, nil, err
	}
	if keys := sec.Keys(); len(keys) == 1 && keys[0] == binaryKey {
		if e, _ := sec.Lookup(binaryKey); e.Kind == vici.KindValue {
			b, err := base64.StdEncoding.DecodeString(string(e.Value))
			return nil, b, err
		}
	}
	return sec, nil, nil
}

// decodeValue reads a list item: a string or a binary value.
func decodeValue(d *json.Decoder) ([]byte, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case string:
		return []byte(tok), nil
	case json.Delim:
		if tok == '{' {
			_, bin, err := decodeObject(d)
			if err == nil && bin == nil {
				err = errors.New("a list holds a section")
			}
			return bin, err
		}
	}
	return nil, fmt.Errorf("got %v in a list, want a string", tok)
}

func expectDelim(d *json.Decoder, want json.Delim) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("got %v, want %v", tok, want)
	}
	return nil
}
