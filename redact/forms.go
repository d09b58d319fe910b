package redact

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/internal/settings"
	vjson "github.com/vicish/vicish/stdlib/json"
)

// quoters are the ways a string is written between quotes in what the
// runtime writes, or in what a Go host writes through it; each returns
// what stands between the quotes. Quoting works byte by byte, so a secret
// inside a longer string is quoted as the secret alone is.
var quoters = []func(string) string{
	// Starlark: str() and repr() of a value holding it, print of a list, pp
	func(s string) string { return inner(starlark.String(s).String(), 1) },
	func(s string) string { return inner(starlark.Bytes(s).String(), 2) }, // b"..."
	// Go's %q and strconv.Quote: the log module's text lines, error messages
	func(s string) string { return inner(strconv.Quote(s), 1) },
	// json.encode, json.encode_indent, --json, --log-json
	func(s string) string { return inner(vjson.Quote(s), 1) },
	// encoding/json, as a host writes JSON: with and without HTML escaping
	func(s string) string { return inner(goJSON(s, true), 1) },
	func(s string) string { return inner(goJSON(s, false), 1) },
	// a quoted value in swanctl.conf or strongswan.conf (file.read of one)
	func(s string) string { return inner(settings.Quote(s), 1) },
}

// quoteDepth is how many times over a secret's quoted forms are matched:
// twice covers a value quoted inside a quoted value (a log line's
// k="{\"psk\": ...}", json.encode of str(d), --json of json.encode(d)).
const quoteDepth = 2

// inner returns q without its closing quote and the open bytes before.
func inner(q string, open int) string { return q[open : len(q)-1] }

// goJSON returns s as encoding/json writes it.
func goJSON(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// shownForms returns the forms in which secret can appear in output: raw,
// quoted by each of quoters up to quoteDepth times over, and in base64
// (json.encode and --json write bytes so; swanctl.conf's 0s values), with
// and without padding. Hex is matched apart (see redactHex), as it may be
// written in either case and with ':' between digits.
func shownForms(secret string) []string {
	forms := []string{secret}
	level := forms
	for range quoteDepth {
		var next []string
		for _, f := range level {
			for _, quote := range quoters {
				if q := quote(f); !slices.Contains(forms, q) {
					forms = append(forms, q)
					next = append(next, q)
				}
			}
		}
		level = next
	}
	forms = append(forms,
		base64.StdEncoding.EncodeToString([]byte(secret)),
		base64.RawStdEncoding.EncodeToString([]byte(secret)))
	return slices.DeleteFunc(forms, func(f string) bool { return len(f) < minSecret })
}
