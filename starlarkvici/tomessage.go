package starlarkvici

import (
	"context"
	"encoding"
	"fmt"
	"strconv"
	"strings"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// Protocol limits checked before sending, so errors can name the key.
const (
	maxNameLen  = 255   // names carry a one-byte length
	maxValueLen = 65535 // values carry a two-byte length
)

// checkEvery is how many values the converter handles between two looks at
// its context, so a conversion of a huge dict stops soon after Ctrl-C.
const checkEvery = 1024

// ToMessage converts a Starlark dict to a VICI message: str and bytes are
// sent as they are, int as decimal, True/False as yes/no, None omits the
// key, a list or tuple becomes a list of scalars and a dict a section, in
// the dict's order. Any other value is an error naming its key path.
//
// The work is bounded whatever the value: sections may nest at most
// vici.MaxDepth levels, a dict that contains itself is reported as a cycle,
// and conversion stops as soon as the message is certain to exceed
// vici.MaxPacketSize, each with an error naming the key path.
func ToMessage(v starlark.Value) (*vici.Message, error) {
	return toMessage(context.Background(), v)
}

// toMessage is ToMessage under ctx: a long conversion ends with an error
// wrapping starctx.ErrInterrupted when ctx is done.
func toMessage(ctx context.Context, v starlark.Value) (*vici.Message, error) {
	m, ok := v.(starlark.IterableMapping)
	if !ok {
		return nil, fmt.Errorf("want a dict for the message, got %s", v.Type())
	}
	c := newConverter(ctx)
	return c.section("", m, nil)
}

// converter turns Starlark values into message entries. Its work is linear
// in the size of the value and bounded: it counts the encoded bytes so far
// (an upper bound on the work, since the message must fit one packet),
// keeps the mappings being converted (for depth and cycles), and checks ctx
// every checkEvery values.
type converter struct {
	ctx   context.Context
	size  int              // encoded bytes of the entries converted so far
	steps int              // values handled since the last look at ctx
	open  []starlark.Value // mappings being converted, outermost first
	dicts []*starlark.Dict // the *starlark.Dict ones among open, for cycles
}

func newConverter(ctx context.Context) *converter { return &converter{ctx: ctx} }

// step counts one value and reports cancellation of the context.
func (c *converter) step(path string) error {
	c.steps++
	if c.steps < checkEvery {
		return nil
	}
	c.steps = 0
	if err := starctx.Interrupted(c.ctx); err != nil {
		return fmt.Errorf("%s: converting the request: %w", where(path), err)
	}
	return nil
}

// grow adds n encoded bytes and fails once the message cannot fit a packet.
func (c *converter) grow(path string, n int) error {
	c.size += n
	if c.size > vici.MaxPacketSize {
		return fmt.Errorf("%s: the message exceeds the %d byte VICI packet limit; send fewer entries per command", path, vici.MaxPacketSize)
	}
	return nil
}

// where names a path for a message: "top level" for the empty path.
func where(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// joinPath appends key to a dotted key path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// enter records that mapping m at path is being converted. It fails if m is
// already open (the value contains itself) or if sections would nest deeper
// than the codec allows.
func (c *converter) enter(path string, m starlark.IterableMapping) error {
	if d, ok := m.(*starlark.Dict); ok {
		for _, o := range c.dicts {
			if o == d {
				return fmt.Errorf("%s: the dict contains itself; a message cannot hold a cycle", where(path))
			}
		}
		c.dicts = append(c.dicts, d)
	}
	// The top-level message is not a section of its own.
	if len(c.open) > vici.MaxDepth {
		return fmt.Errorf("%s: sections nest deeper than %d levels, the most a VICI message may hold", path, vici.MaxDepth)
	}
	c.open = append(c.open, m)
	return nil
}

func (c *converter) leave(m starlark.IterableMapping) {
	c.open = c.open[:len(c.open)-1]
	if _, ok := m.(*starlark.Dict); ok {
		c.dicts = c.dicts[:len(c.dicts)-1]
	}
}

// section converts mapping m found at path. sc, when non-nil, says which
// keys must be lists, values or sections, and the types of a command's
// request keys. Entries are appended in the mapping's order, so the work
// is linear in its size.
func (c *converter) section(path string, m starlark.IterableMapping, sc *schema) (*vici.Message, error) {
	if err := c.enter(path, m); err != nil {
		return nil, err
	}
	defer c.leave(m)
	msg := vici.NewMessage()
	// A dict's keys are distinct values, and only str keys are accepted,
	// so only other mappings need a duplicate check.
	var seen map[string]bool
	if _, ok := m.(*starlark.Dict); !ok {
		seen = map[string]bool{}
	}
	for k, v := range mappingEntries(m) {
		key, ok := starlark.AsString(k)
		if !ok {
			return nil, fmt.Errorf("%s: key %s is %s; section keys must be str", where(path), k.String(), k.Type())
		}
		p := joinPath(path, key)
		if err := c.step(p); err != nil {
			return nil, err
		}
		if len(key) > maxNameLen {
			return nil, fmt.Errorf("%s: key is %d bytes long; VICI names are at most %d bytes", p, len(key), maxNameLen)
		}
		if seen != nil {
			if seen[key] {
				return nil, fmt.Errorf("%s: duplicate key", p)
			}
			seen[key] = true
		}
		e, keep, err := c.entry(p, key, v, sc)
		if err != nil {
			return nil, err
		}
		if keep {
			msg.Append(e)
		}
	}
	return msg, nil
}

// mappingEntries iterates the items of m without copying a dict's items.
func mappingEntries(m starlark.IterableMapping) func(yield func(k, v starlark.Value) bool) {
	if d, ok := m.(*starlark.Dict); ok {
		return d.Entries()
	}
	return func(yield func(k, v starlark.Value) bool) {
		for _, item := range m.Items() {
			if !yield(item[0], item[1]) {
				return
			}
		}
	}
}

// entry converts the value v of key (found at path) to a message entry.
// keep is false when the key is to be left out: a None value, or False for
// a Flag key.
func (c *converter) entry(path, key string, v starlark.Value, sc *schema) (e vici.Entry, keep bool, err error) {
	if t, ok := sc.typeOf(key); ok {
		return c.typed(path, key, v, t, sc.credential(key))
	}
	want := ""
	if sc != nil {
		want = sc.kind(key)
	}
	head := 2 + len(key) // element type, name length, name
	switch v := v.(type) {
	case starlark.NoneType:
		return vici.Entry{}, false, nil
	case *starlark.List, starlark.Tuple:
		if want == "value" || want == "section" {
			return vici.Entry{}, false, fmt.Errorf("%s: the daemon wants %s here, got %s", path, describeKind(want, sc, key), v.Type())
		}
		if err := c.grow(path, head+1); err != nil {
			return vici.Entry{}, false, err
		}
		items, err := c.list(path, v.(starlark.Indexable))
		if err != nil {
			return vici.Entry{}, false, err
		}
		if sc.credential(key) {
			for i, it := range items {
				if err := checkCredential(fmt.Sprintf("%s[%d]", path, i), it); err != nil {
					return vici.Entry{}, false, err
				}
			}
		}
		return vici.Entry{Name: key, Kind: vici.KindList, List: items}, true, nil
	case starlark.IterableMapping:
		if want == "value" || want == "list" {
			return vici.Entry{}, false, fmt.Errorf("%s: the daemon wants %s here, got %s", path, describeKind(want, sc, key), v.Type())
		}
		var sub *schema
		if want == "section" {
			sub = sc.sub(strings.ToLower(key))
		}
		if err := c.grow(path, head+1); err != nil {
			return vici.Entry{}, false, err
		}
		s, err := c.section(path, v, sub)
		if err != nil {
			return vici.Entry{}, false, err
		}
		return vici.Entry{Name: key, Kind: vici.KindSection, Section: s}, true, nil
	}
	if want == "section" {
		return vici.Entry{}, false, fmt.Errorf("%s: the daemon wants %s here, got %s", path, describeKind(want, sc, key), v.Type())
	}
	b, err := convertScalar(path, v)
	if err != nil {
		return vici.Entry{}, false, err
	}
	if sc.credential(key) {
		if err := checkCredential(path, b); err != nil {
			return vici.Entry{}, false, err
		}
	}
	if want == "list" {
		if _, ok := v.(starlark.String); !ok {
			if _, ok := v.(starlark.Bytes); !ok {
				return vici.Entry{}, false, fmt.Errorf("%s: the daemon wants a list here, got %s (a str would be sent as a one-item list)", path, v.Type())
			}
		}
		return vici.Entry{Name: key, Kind: vici.KindList, List: [][]byte{b}}, true, c.grow(path, head+1+3+len(b))
	}
	return vici.Entry{Name: key, Kind: vici.KindValue, Value: b}, true, c.grow(path, head+2+len(b))
}

// set converts v and stores it as key of msg, replacing an entry of the same
// name in place (a keyword argument overrides the request dict's key).
func (c *converter) set(msg *vici.Message, path, key string, v starlark.Value, sc *schema) error {
	e, keep, err := c.entry(path, key, v, sc)
	if err != nil {
		return err
	}
	switch {
	case !keep:
		msg.Delete(key)
	case e.Kind == vici.KindValue:
		msg.SetBytes(key, e.Value)
	case e.Kind == vici.KindList:
		msg.SetBytesList(key, e.List)
	default:
		msg.SetSection(key, e.Section)
	}
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

// list converts the items of a list or tuple: VICI lists hold only plain
// values, so nothing in it can nest.
func (c *converter) list(path string, l starlark.Indexable) ([][]byte, error) {
	n := l.Len()
	items := make([][]byte, 0, min(n, vici.MaxPacketSize/3))
	for i := range n {
		v := l.Index(i)
		if err := c.step(path); err != nil {
			return nil, err
		}
		switch v.(type) {
		case starlark.NoneType, *starlark.List, starlark.Tuple, starlark.IterableMapping:
			return nil, fmt.Errorf("%s[%d]: list items must be str, bytes, int or bool, got %s (VICI lists hold only plain values)", path, i, v.Type())
		}
		b, err := convertScalar(path+"["+strconv.Itoa(i)+"]", v)
		if err != nil {
			return nil, err
		}
		if err := c.grow(path, 3+len(b)); err != nil {
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
