package starlarkvici

import (
	"encoding"
	"fmt"
	"strings"

	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// Protocol limits checked before sending, so errors can name the key.
const (
	maxNameLen  = 255   // names carry a one-byte length
	maxValueLen = 65535 // values carry a two-byte length
)

// ToMessage converts a Starlark dict to a VICI message: str and bytes are
// sent as they are, int as decimal, True/False as yes/no, None omits the
// key, a list or tuple becomes a list of scalars and a dict a section, in
// the dict's order. Any other value is an error naming its key path.
func ToMessage(v starlark.Value) (*vici.Message, error) {
	m, ok := v.(starlark.IterableMapping)
	if !ok {
		return nil, fmt.Errorf("want a dict for the message, got %s", v.Type())
	}
	return convertSection("", m, nil, nil)
}

// joinPath appends key to a dotted key path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// convertSection converts mapping m found at path. sc, when non-nil, says
// which keys must be lists, values or sections; presence names top-level
// keys that the daemon treats as on whenever present.
func convertSection(path string, m starlark.IterableMapping, sc *schema, presence map[string]bool) (*vici.Message, error) {
	msg := vici.NewMessage()
	for _, item := range m.Items() {
		k, ok := starlark.AsString(item[0])
		if !ok {
			where := "top level"
			if path != "" {
				where = path
			}
			return nil, fmt.Errorf("%s: key %s is %s; section keys must be str", where, item[0].String(), item[0].Type())
		}
		p := joinPath(path, k)
		if len(k) > maxNameLen {
			return nil, fmt.Errorf("%s: key is %d bytes long; VICI names are at most %d bytes", p, len(k), maxNameLen)
		}
		if msg.Has(k) {
			return nil, fmt.Errorf("%s: duplicate key", p)
		}
		if err := convertEntry(msg, p, k, item[1], sc, presence[k]); err != nil {
			return nil, err
		}
	}
	return msg, nil
}

func convertEntry(msg *vici.Message, path, key string, v starlark.Value, sc *schema, presence bool) error {
	want := ""
	if sc != nil {
		want = sc.kind(key)
	}
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.Bool:
		if presence {
			msg.SetFlag(key, bool(v))
			return nil
		}
	case *starlark.List, starlark.Tuple:
		if want == "value" || want == "section" {
			return fmt.Errorf("%s: the daemon wants %s here, got %s", path, describeKind(want, sc, key), v.Type())
		}
		items, err := convertList(path, v.(starlark.Indexable))
		if err != nil {
			return err
		}
		msg.SetBytesList(key, items)
		return nil
	case starlark.IterableMapping:
		if want == "value" || want == "list" {
			return fmt.Errorf("%s: the daemon wants %s here, got %s", path, describeKind(want, sc, key), v.Type())
		}
		var sub *schema
		if want == "section" {
			sub = sc.sub(strings.ToLower(key))
		}
		s, err := convertSection(path, v, sub, nil)
		if err != nil {
			return err
		}
		msg.SetSection(key, s)
		return nil
	}
	if want == "section" {
		return fmt.Errorf("%s: the daemon wants %s here, got %s", path, describeKind(want, sc, key), v.Type())
	}
	b, err := convertScalar(path, v)
	if err != nil {
		return err
	}
	if want == "list" {
		if _, ok := v.(starlark.String); !ok {
			if _, ok := v.(starlark.Bytes); !ok {
				return fmt.Errorf("%s: the daemon wants a list here, got %s (a str would be sent as a one-item list)", path, v.Type())
			}
		}
		msg.SetBytesList(key, [][]byte{b})
		return nil
	}
	msg.SetBytes(key, b)
	return nil
}

// describeKind phrases what the schema wants for key.
func describeKind(want string, sc *schema, key string) string {
	switch want {
	case "list":
		return "a list"
	case "value":
		return "a single value (str, bytes, int or bool)"
	}
	if sub := sc.sub(strings.ToLower(key)); sub != nil && sub.what != "" {
		return "a dict (the " + sub.what + " settings)"
	}
	return "a dict"
}

func convertList(path string, l starlark.Indexable) ([][]byte, error) {
	items := make([][]byte, 0, l.Len())
	for i := 0; i < l.Len(); i++ {
		p := fmt.Sprintf("%s[%d]", path, i)
		v := l.Index(i)
		switch v.(type) {
		case starlark.NoneType, *starlark.List, starlark.Tuple, starlark.IterableMapping:
			return nil, fmt.Errorf("%s: list items must be str, bytes, int or bool, got %s (VICI lists hold only plain values)", p, v.Type())
		}
		b, err := convertScalar(p, v)
		if err != nil {
			return nil, err
		}
		items = append(items, b)
	}
	return items, nil
}

func convertScalar(path string, v starlark.Value) ([]byte, error) {
	var b []byte
	switch v := v.(type) {
	case starlark.String:
		b = []byte(string(v))
	case starlark.Bytes:
		b = []byte(string(v))
	case starlark.Int:
		b = []byte(v.String())
	case starlark.Bool:
		if v {
			b = []byte("yes")
		} else {
			b = []byte("no")
		}
	case encoding.BinaryMarshaler:
		// Values that hide their content when printed, such as the
		// secrets swanctl.load_conf returns, still go to the wire.
		data, err := v.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		b = data
	default:
		return nil, fmt.Errorf("%s: cannot send a %s; want str, bytes, int, bool, None, list or dict", path, v.Type())
	}
	if len(b) > maxValueLen {
		return nil, fmt.Errorf("%s: value is %d bytes long; VICI values are at most %d bytes", path, len(b), maxValueLen)
	}
	return b, nil
}
