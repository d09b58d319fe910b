// Package redact keeps secrets out of what a vicish runtime writes. A
// runtime holds one Secrets and learns into it the secrets its scripts
// handle: ScanSource reads a program before it runs, LearnText input that
// does not parse, LearnArgs a builtin's arguments, Learn values (the
// values of secret keys in every dict and struct, the bytes of every
// Secret), Add a string. Redact, and every Writer, then replace each known
// secret by Mark in each form the runtime writes it in: raw, quoted by
// Starlark, Go, JSON or strongSwan's settings syntax (once or twice over),
// in base64 and in hex.
//
// What counts as a secret, and the limits, are written down once, in
// vicish's docs/security.md ("Secrets").
package redact

import (
	"cmp"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Mark replaces a secret in printed values and messages.
const Mark = "<redacted>"

// minSecret is the shortest string treated as a secret; shorter ones
// would blank out ordinary words.
const minSecret = 4

// Secret is implemented by values that hold secret bytes but do not show
// them (swanctl.secret): whoever learns such a value learns its bytes.
type Secret interface {
	SecretBytes() []byte
}

// Secrets is a set of strings that must not be shown: pre-shared keys,
// passwords, PINs and private key material. It is safe for concurrent use.
type Secrets struct {
	mu       sync.Mutex
	set      map[string]struct{} // the secrets
	forms    map[string]struct{} // every secret's shown forms
	hexes    []string            // every secret's hexForm; only appended to
	replacer *strings.Replacer   // forms → Mark; nil until needed after a change
}

// New returns an empty set.
func New() *Secrets {
	return &Secrets{set: map[string]struct{}{}, forms: map[string]struct{}{}}
}

// Add records secret. Strings shorter than 4 bytes are ignored.
func (s *Secrets) Add(secret string) {
	if len(secret) < minSecret {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[secret]; ok {
		return
	}
	s.set[secret] = struct{}{}
	s.hexes = append(s.hexes, hexForm(secret))
	for _, f := range shownForms(secret) {
		if _, ok := s.forms[f]; !ok {
			s.forms[f] = struct{}{}
			s.replacer = nil
		}
	}
}

// current returns the replacer of every known form, building it after a
// change, and the secrets' hex forms; nil when no secret is known.
func (s *Secrets) current() (*strings.Replacer, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replacer == nil && len(s.forms) > 0 {
		// longest first: at a position where several forms match, the
		// replacer takes the first given, so a secret containing another
		// is replaced whole
		forms := slices.Collect(maps.Keys(s.forms))
		slices.SortFunc(forms, func(a, b string) int {
			return cmp.Or(len(b)-len(a), strings.Compare(a, b))
		})
		pairs := make([]string, 0, 2*len(forms))
		for _, f := range forms {
			pairs = append(pairs, f, Mark)
		}
		s.replacer = strings.NewReplacer(pairs...)
	}
	return s.replacer, s.hexes
}

// Redact returns text with every known secret replaced by <redacted>.
func (s *Secrets) Redact(text string) string {
	r, hexes := s.current()
	if r == nil {
		return text
	}
	return redactHex(r.Replace(text), hexes)
}

// Has reports whether s is a known secret (not merely holds one).
func (s *Secrets) Has(secret string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.set[secret]
	return ok
}

// contains reports whether text holds a known secret.
func (s *Secrets) contains(text string) bool { return s.Redact(text) != text }

// writer redacts every Write before passing it on.
type writer struct {
	w       io.Writer
	secrets *Secrets
}

// Writer returns w with every known secret redacted from what is written
// through it. Each Write is redacted as a whole: a secret split across two
// writes is not matched (vicish's own sinks write whole lines).
func (s *Secrets) Writer(w io.Writer) io.Writer { return &writer{w: w, secrets: s} }

func (w *writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.w, w.secrets.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
