package json

import (
	"bytes"
	"context"
	"encoding/base64"
	gojson "encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/starctx"
)

// Encode writes v as JSON for every value a vici reply or a script holds:
//
//   - None, bools, ints (any size) and finite floats as JSON literals;
//   - str as a JSON string (bytes that are not UTF-8 become U+FFFD);
//   - bytes as a base64 string (standard alphabet, padded): certificates
//     and other binary values of vici.list_certs() and friends;
//   - dicts as objects in their own key order, which for vici replies is
//     the daemon's order (keys must be str);
//   - lists, tuples and other iterables as arrays;
//   - time values (time.now(), x509.parse's dates) as RFC 3339 strings,
//     durations as their text ("1h30m0s");
//   - structs (exec.run, http.post) as objects of their fields.
//
// Anything else (functions, modules, swanctl secrets) is an error naming
// where it is ("at [0]["data"]"). Nesting deeper than MaxDepth levels and
// a list or dict that contains itself are errors too. Encode checks ctx
// every few thousand values, so a huge value stops encoding on Ctrl-C.
func Encode(ctx context.Context, v starlark.Value) ([]byte, error) {
	e := &encoder{ctx: ctx, path: make([]string, 0, 16), open: map[starlark.Value]bool{}}
	if err := e.value(v); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

// EncodeIndent is Encode with each element on a new line starting with
// prefix and indented by indent per level, as encoding/json.Indent does.
func EncodeIndent(ctx context.Context, v starlark.Value, prefix, indent string) ([]byte, error) {
	flat, err := Encode(ctx, v)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := gojson.Indent(&out, flat, prefix, indent); err != nil {
		return nil, err // cannot happen: Encode writes valid JSON
	}
	return out.Bytes(), nil
}

type encoder struct {
	ctx   context.Context
	buf   bytes.Buffer
	path  []string                // where the encoder is, for errors
	open  map[starlark.Value]bool // containers being encoded, to find cycles
	count int                     // values written, for cancellation checks
}

func (e *encoder) fail(format string, args ...any) error {
	where := ""
	for _, p := range e.path {
		where += p
	}
	if where != "" {
		where = "at " + where + ": "
	}
	return fmt.Errorf(where+format, args...)
}

// enter marks container x as being encoded; it fails on a cycle or when
// the nesting is too deep. Only pointers are remembered: a value of
// another kind (a tuple) cannot contain itself except through one.
func (e *encoder) enter(x starlark.Value) error {
	if len(e.path) >= MaxDepth {
		return e.fail("nested deeper than %d levels", MaxDepth)
	}
	if !isPointer(x) {
		return nil
	}
	if e.open[x] {
		return e.fail("%s contains itself", x.Type())
	}
	e.open[x] = true
	return nil
}

// leave ends what enter began.
func (e *encoder) leave(x starlark.Value) {
	if isPointer(x) {
		delete(e.open, x)
	}
}

func isPointer(x starlark.Value) bool { return reflect.ValueOf(x).Kind() == reflect.Pointer }

func (e *encoder) value(v starlark.Value) error {
	if e.count++; e.count%4096 == 0 && e.ctx != nil {
		if err := starctx.Interrupted(e.ctx); err != nil {
			return err
		}
	}
	switch v := v.(type) {
	case starlark.NoneType:
		e.buf.WriteString("null")
	case starlark.Bool:
		e.buf.WriteString(strconv.FormatBool(bool(v)))
	case starlark.Int:
		e.buf.WriteString(v.String())
	case starlark.Float:
		f := float64(v)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return e.fail("cannot encode non-finite float %v", v)
		}
		e.buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	case starlark.String:
		e.str(string(v))
	case display.Text: // a rendered table (table.sas()) is its text
		e.str(string(v))
	case starlark.Bytes:
		e.buf.WriteByte('"')
		enc := base64.NewEncoder(base64.StdEncoding, &e.buf)
		_, _ = enc.Write([]byte(v)) // writes to a bytes.Buffer cannot fail
		_ = enc.Close()
		e.buf.WriteByte('"')
	case libtime.Time:
		e.str(time.Time(v).Format(time.RFC3339Nano))
	case libtime.Duration:
		e.str(v.String())
	case starlark.IterableMapping:
		return e.object(v)
	case *starlarkstruct.Struct:
		return e.structFields(v)
	case starlark.Iterable:
		return e.array(v)
	default:
		return e.fail("cannot encode %s", v.Type())
	}
	return nil
}

func (e *encoder) object(m starlark.IterableMapping) error {
	if err := e.enter(m); err != nil {
		return err
	}
	defer e.leave(m)
	e.buf.WriteByte('{')
	for i, item := range m.Items() {
		k, ok := item[0].(starlark.String)
		if !ok {
			return e.fail("dict has %s key %s, want str", item[0].Type(), item[0])
		}
		if i > 0 {
			e.buf.WriteByte(',')
		}
		e.str(string(k))
		e.buf.WriteByte(':')
		e.path = append(e.path, "["+strconv.Quote(string(k))+"]")
		err := e.value(item[1])
		e.path = e.path[:len(e.path)-1]
		if err != nil {
			return err
		}
	}
	e.buf.WriteByte('}')
	return nil
}

func (e *encoder) structFields(s *starlarkstruct.Struct) error {
	if err := e.enter(s); err != nil {
		return err
	}
	defer e.leave(s)
	e.buf.WriteByte('{')
	for i, name := range s.AttrNames() {
		v, err := s.Attr(name)
		if err != nil {
			return e.fail("%v", err)
		}
		if i > 0 {
			e.buf.WriteByte(',')
		}
		e.str(name)
		e.buf.WriteByte(':')
		e.path = append(e.path, "."+name)
		err = e.value(v)
		e.path = e.path[:len(e.path)-1]
		if err != nil {
			return err
		}
	}
	e.buf.WriteByte('}')
	return nil
}

func (e *encoder) array(it starlark.Iterable) error {
	if err := e.enter(it); err != nil {
		return err
	}
	defer e.leave(it)
	e.buf.WriteByte('[')
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for i := 0; iter.Next(&x); i++ {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		e.path = append(e.path, "["+strconv.Itoa(i)+"]")
		err := e.value(x)
		e.path = e.path[:len(e.path)-1]
		if err != nil {
			return err
		}
	}
	e.buf.WriteByte(']')
	return nil
}

// str writes s as a JSON string (see Quote).
func (e *encoder) str(s string) { e.buf.Write(appendString(e.buf.AvailableBuffer(), s)) }

// Quote returns s as a JSON string, as json.encode and the log module's
// JSON lines write it: quotes, backslashes and control characters escaped
// (\n, \r and \t by name, the others as \u00XX), invalid UTF-8 as \ufffd,
// U+2028 and U+2029 as \u2028 and \u2029; <, > and & stay as they are.
func Quote(s string) string { return string(appendString(nil, s)) }

// appendString appends s as a JSON string to b (see Quote).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, `\u00`...)
				b = append(b, hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// encode implements json.encode(x).
func encode(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &x); err != nil {
		return nil, err
	}
	out, err := Encode(starctx.From(thread), x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(out), nil
}

// encodeIndent implements json.encode_indent(x, *, prefix="", indent="\t").
func encodeIndent(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	prefix, indent := "", "\t"
	if len(args) > 1 {
		return nil, fmt.Errorf("%s: got %d positional arguments, want 1 (prefix and indent are keywords)", b.Name(), len(args))
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x, "prefix?", &prefix, "indent?", &indent); err != nil {
		return nil, err
	}
	out, err := EncodeIndent(starctx.From(thread), x, prefix, indent)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(out), nil
}
