// Package log provides the Starlark "log" module: one line per message,
// with a timestamp, a level and key=value fields.
//
//	log.info(msg, **fields)
//	log.warn(msg, **fields)
//	log.error(msg, **fields)
//
// In text mode a line reads
//
//	2026-11-22T17:00:00.000Z INFO  moving CHILD_SA conn=primary peer="gw b"
//
// and in JSON-lines mode (vicish --log-json)
//
//	{"time":"2026-11-22T17:00:00Z","level":"info","msg":"moving CHILD_SA","fields":{"conn":"primary","peer":"gw b"}}
//
// Fields keep the order they were given in; in JSON each value is written
// as json.encode writes it (dicts in their key order, bytes in base64), or
// as its text when json.encode refuses it (a function, a cycle). The clock is the thread's
// time.now clock (go.starlark.net/lib/time.SetNow), so tests can fix it.
package log

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/starctx"
	vjson "github.com/vicish/vicish/stdlib/json"
)

// NewModule returns a "log" module writing to w (os.Stderr in vicish), as
// text lines or, when jsonLines is set, one JSON object per line. Each
// message is written with a single Write call; the module may be shared by
// several threads.
func NewModule(w io.Writer, jsonLines bool) *starlarkstruct.Module {
	return Spec(w, jsonLines).Build(nil)
}

type logger struct {
	mu        sync.Mutex // serialises writes to w
	w         io.Writer
	jsonLines bool
}

func (l *logger) builtin(level string) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("%s: got %d positional arguments, want 1 (the message; give fields as key=value)", b.Name(), len(args))
		}
		msg, ok := starlark.AsString(args[0])
		if !ok {
			msg = args[0].String()
		}
		now, err := clock(thread)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		var line []byte
		if l.jsonLines {
			line, err = jsonLine(starctx.From(thread), now, level, msg, kwargs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name(), err)
			}
		} else {
			line = textLine(now, level, msg, kwargs)
		}
		l.mu.Lock()
		_, err = l.w.Write(line)
		l.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return starlark.None, nil
	}
}

// clock reads the thread's time.now clock, or the system clock.
func clock(thread *starlark.Thread) (time.Time, error) {
	if now := libtime.Now(thread); now != nil {
		return now()
	}
	return time.Now(), nil
}

func textLine(now time.Time, level, msg string, fields []starlark.Tuple) []byte {
	var b bytes.Buffer
	b.WriteString(now.Format("2006-01-02T15:04:05.000Z07:00"))
	fmt.Fprintf(&b, " %-5s ", strings.ToUpper(level))
	if strings.ContainsFunc(msg, unicode.IsControl) {
		msg = strconv.Quote(msg)
	}
	b.WriteString(msg)
	for _, kv := range fields {
		b.WriteByte(' ')
		b.WriteString(string(kv[0].(starlark.String)))
		b.WriteByte('=')
		b.WriteString(textValue(kv[1]))
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// textValue formats a field value, quoting it when it would not read back
// as one word.
func textValue(v starlark.Value) string {
	s, ok := starlark.AsString(v)
	if !ok {
		s = v.String()
	}
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '=' || r == '\\'
	}) {
		return strconv.Quote(s)
	}
	return s
}

func jsonLine(ctx context.Context, now time.Time, level, msg string, fields []starlark.Tuple) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"time":`)
	b.WriteString(vjson.Quote(now.Format(time.RFC3339Nano)))
	b.WriteString(`,"level":`)
	b.WriteString(vjson.Quote(level))
	b.WriteString(`,"msg":`)
	b.WriteString(vjson.Quote(msg))
	if len(fields) > 0 {
		b.WriteString(`,"fields":{`)
		for i, kv := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			name := string(kv[0].(starlark.String))
			b.WriteString(vjson.Quote(name))
			b.WriteByte(':')
			// as json.encode writes it; what it refuses (a function, a
			// dict that contains itself), as the text lines show it
			enc, err := vjson.Encode(ctx, kv[1])
			if err != nil {
				if ctx.Err() != nil {
					return nil, err
				}
				b.WriteString(vjson.Quote(kv[1].String()))
				continue
			}
			b.Write(enc)
		}
		b.WriteByte('}')
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}
