package starlarkvici

import (
	"bytes"
	"encoding"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
)

// typed converts the value v of a typed request key (see KeyType) found at
// path, refusing a value of another type before anything is sent. keep is
// false when the key is left out (None, or False for a Flag).
func (c *converter) typed(path, key string, v starlark.Value, t KeyType, cred bool) (e vici.Entry, keep bool, err error) {
	if v == starlark.None {
		return vici.Entry{}, false, nil
	}
	head := 2 + len(key) // element type, name length, name
	var b []byte
	switch t {
	case Flag, Bool:
		on, ok := v.(starlark.Bool)
		switch {
		case !ok:
			return vici.Entry{}, false, wrongType(path, t, v)
		case t == Flag && !bool(on):
			return vici.Entry{}, false, nil
		case bool(on):
			b = []byte("yes")
		default:
			b = []byte("no")
		}
	case Int:
		if b, err = intValue(path, v); err != nil {
			return vici.Entry{}, false, err
		}
	case Timeout:
		if b, err = timeoutValue(path, v); err != nil {
			return vici.Entry{}, false, err
		}
	case List:
		switch v := v.(type) {
		case *starlark.List, starlark.Tuple:
			if err := c.grow(path, head+1); err != nil {
				return vici.Entry{}, false, err
			}
			items, err := c.list(path, v.(starlark.Indexable))
			if err != nil {
				return vici.Entry{}, false, err
			}
			return vici.Entry{Name: key, Kind: vici.KindList, List: items}, true, nil
		case starlark.String, starlark.Bytes: // one item
			if b, err = convertScalar(path, v); err != nil {
				return vici.Entry{}, false, err
			}
			return vici.Entry{Name: key, Kind: vici.KindList, List: [][]byte{b}}, true, c.grow(path, head+1+3+len(b))
		}
		return vici.Entry{}, false, wrongType(path, t, v)
	case Str, Bytes:
		switch v.(type) {
		case starlark.String, encoding.BinaryMarshaler: // a secret from swanctl.load_conf
		case starlark.Bytes:
			if t == Str {
				return vici.Entry{}, false, wrongType(path, t, v)
			}
		default:
			return vici.Entry{}, false, wrongType(path, t, v)
		}
		if b, err = convertScalar(path, v); err != nil {
			return vici.Entry{}, false, err
		}
		if cred {
			if err := checkCredential(path, b); err != nil {
				return vici.Entry{}, false, err
			}
		}
	}
	return vici.Entry{Name: key, Kind: vici.KindValue, Value: b}, true, c.grow(path, head+2+len(b))
}

// wrongType is the error for a value of the wrong type: it names the key,
// the type wanted and the type given.
func wrongType(path string, t KeyType, v starlark.Value) error {
	why := ""
	switch v.(type) {
	case *starlark.List, starlark.Tuple:
		why = " (charon reads one value here and would ignore a list, as if the key were not given)"
	case starlark.IterableMapping:
		if t != List {
			why = " (charon reads one value here)"
		}
	}
	return fmt.Errorf("%s: want %s, got %s%s", path, t.wanted(), typeName(v), why)
}

// wanted names the Starlark values a key of type t takes, for errors.
func (t KeyType) wanted() string {
	switch t {
	case Flag:
		return "bool"
	case Timeout:
		return "a duration"
	}
	return t.String()
}

// typeName is v's type as vicish's messages name it ("str", not Starlark's
// "string").
func typeName(v starlark.Value) string {
	if t := v.Type(); t != "string" {
		return t
	}
	return "str"
}

// intValue converts an Int key's value: an int, or a str of decimal digits
// (list_sas returns unique ids as str). charon reads it as a C int, so it
// must fit 32 bits: a value it cannot parse would be taken as 0, which for
// ike_id and child_id means "every SA".
func intValue(path string, v starlark.Value) ([]byte, error) {
	var n int64
	switch v := v.(type) {
	case starlark.Int:
		x, ok := v.Int64()
		if !ok {
			return nil, fmt.Errorf("%s: %s is out of range (charon reads a 32-bit int)", path, v)
		}
		n = x
	case starlark.String:
		x, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: want int (or a str of its digits), got str %s", path, v)
		}
		n = x
	default:
		return nil, wrongType(path, Int, v)
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return nil, fmt.Errorf("%s: %d is out of range (charon reads a 32-bit int)", path, n)
	}
	return strconv.AppendInt(nil, n, 10), nil
}

// maxBareTimeout is the largest timeout= given as a bare number that is
// taken as seconds: timeout= was charon's milliseconds before, and a
// script still writing timeout=10000 would otherwise wait 2.8 hours.
const maxBareTimeout = 3600

// maxTimeout is the longest timeout charon can take (a C int of
// milliseconds).
const maxTimeout = math.MaxInt32 * time.Millisecond

// timeoutValue converts a Timeout key's value to charon's milliseconds: a
// duration as starctx.Duration reads it, or 0 (wait until done) and -1
// (return at once) with their VICI meaning.
func timeoutValue(path string, v starlark.Value) ([]byte, error) {
	bare := false
	switch v := v.(type) {
	case starlark.Int, starlark.Float:
		f, _ := starlark.AsFloat(v)
		switch {
		case f == -1:
			return []byte("-1"), nil
		case f < 0:
			return nil, fmt.Errorf("%s: want -1 (return at once), 0 (wait until done) or a duration, got %s", path, v)
		}
		bare = true
	case starlark.String:
		_, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
		bare = err == nil
	case *starlark.List, starlark.Tuple, starlark.IterableMapping:
		return nil, wrongType(path, Timeout, v)
	}
	var d starctx.Duration
	if err := d.Unpack(v); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if bare && d.D > maxBareTimeout*time.Second {
		return nil, fmt.Errorf("%s: %s seconds is more than an hour: timeout= is in seconds (not milliseconds, as charon and earlier vicish read it); write timeout=10 or timeout=\"10s\" for ten seconds, or a longer wait with its unit, e.g. \"2h\"", path, v)
	}
	if d.D > maxTimeout {
		return nil, fmt.Errorf("%s: %v is longer than charon can wait (%v)", path, d.D, maxTimeout)
	}
	// Round up: a positive timeout below a millisecond must not become 0,
	// which waits until done.
	ms := (d.D + time.Millisecond - 1) / time.Millisecond
	return strconv.AppendInt(nil, int64(ms), 10), nil
}

// checkCredential refuses the value of a certificate or key that is rather
// the name of its file (a mistake from swanctl.conf, which names files
// where VICI wants their contents).
func checkCredential(path string, b []byte) error {
	if !looksLikeFileName(b) {
		return nil
	}
	return fmt.Errorf("%s: %q looks like a file name; VICI wants the certificate or key itself (PEM or DER) where swanctl.conf names a file: "+
		"give file.read(%q), or load the whole swanctl.conf with swanctl.load_conf", path, b, b)
}

// looksLikeFileName reports whether b, given as a certificate or key, is
// a file name instead: one short line without a PEM header, not DER (which
// starts with a SEQUENCE), that ends like a certificate file or holds a
// path.
func looksLikeFileName(b []byte) bool {
	if len(b) == 0 || len(b) > 255 || b[0] == 0x30 || bytes.Contains(b, []byte("-----BEGIN")) || bytes.ContainsAny(b, "\n\x00") {
		return false
	}
	switch strings.ToLower(filepath.Ext(string(b))) {
	case ".pem", ".crt", ".cer", ".der", ".key", ".p12", ".pfx", ".pub":
		return true
	}
	return bytes.HasPrefix(b, []byte("/")) || bytes.HasPrefix(b, []byte("./"))
}
