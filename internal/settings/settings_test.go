package settings

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, text string) *Settings {
	t.Helper()
	s, err := Parse(context.Background(), filepath.Join(t.TempDir(), "swanctl.conf"), []byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return s
}

func kvString(kvs []KeyValue) string {
	var parts []string
	for _, e := range kvs {
		parts = append(parts, e.Key+"="+e.Value)
	}
	return strings.Join(parts, "|")
}

func TestValues(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"plain", "a = b\n", "b"},
		{"parts joined by one space", "a =   b \t  c\n", "b c"},
		{"quoted keeps blanks", `a = "  b  c "` + "\n", "  b  c "},
		{"quoted and plain", `a = x "y  z" w` + "\n", "x y  z w"},
		{"escapes", `a = "q\"t\\b\tn\nr\re\x"` + "\n", "q\"t\\b\tn\nr\rex"},
		{"escaped newline joins", "a = \"one\\\ntwo\"\n", "onetwo"},
		{"quoted hash and brace", `a = "#not a comment }"` + "\n", "#not a comment }"},
		{"comment ends value", "a = b # comment\n", "b"},
		{"brace ends value", "s { a = b }\n", ""},
		{"equals inside value", "a = b=c = d\n", "b=c = d"},
		{"empty quoted is a value", `a = ""` + "\n", ""},
		{"CR ignored", "a = b\r\n", "b"},
		{"no final newline", "a = b", "b"},
		{"commas stay in values", "a = x, y ,z\n", "x, y ,z"},
		{"later definition wins", "a = 1\na = 2\n", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, tc.text)
			if tc.name == "brace ends value" {
				if got, _ := s.Get("s.a"); got != "b" {
					t.Fatalf("s.a = %q, want b", got)
				}
				return
			}
			got, ok := s.Get("a")
			if !ok || got != tc.want {
				t.Fatalf("a = %q (set %v), want %q", got, ok, tc.want)
			}
		})
	}
}

func TestComments(t *testing.T) {
	s := mustParse(t, `# leading comment
connections { # after a brace
	# indented comment
	gw {   # here too
		version = 2 #trailing
	}
}
# closing comment`)
	if got := kvString(s.KeyValues("connections.gw")); got != "version=2" {
		t.Fatalf("got %q", got)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"a {\n b = c\n", "not closed"},
		{"a = b\n}\n", "unexpected '}'"},
		{"\"a\" = b\n", "unexpected string"},
		{"a = \"open\n", "unterminated string"},
		{"a.b = c\n", "unexpected '.'"},
		{"a b = c\n", `unexpected "b"`},
		{"a : { }\n", "expecting a section reference"},
	} {
		_, err := Parse(context.Background(), "/x/swanctl.conf", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.text, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "/x/swanctl.conf:") {
			t.Errorf("%q: error %v does not name the file and line", tc.text, err)
		}
	}
}

func TestOrderAndMerge(t *testing.T) {
	s := mustParse(t, `
connections {
	b { x = 1 }
	a { y = 2 }
}
connections {
	b { x = 3
	    z = 4 }
	c { }
}`)
	if got := s.SectionNames("connections"); !reflect.DeepEqual(got, []string{"b", "a", "c"}) {
		t.Fatalf("sections %v", got)
	}
	if got := kvString(s.KeyValues("connections.b")); got != "x=3|z=4" {
		t.Fatalf("b: %q", got)
	}
}

func TestClearing(t *testing.T) {
	s := mustParse(t, `
base { a = 1
       b = 2
       c = 3 }
conn : base {
	b =
	d = 4
}
again { x = 1
        x = }
`)
	if got := kvString(s.KeyValues("conn")); got != "d=4|a=1|c=3" {
		t.Fatalf("conn: %q (cleared b must hide base's b)", got)
	}
	if _, ok := s.Get("conn.b"); ok {
		t.Fatal("conn.b is cleared but reads as set")
	}
	if v, _ := s.Get("conn.a"); v != "1" {
		t.Fatalf("conn.a = %q, want the inherited 1", v)
	}
	if got := kvString(s.KeyValues("again")); got != "" {
		t.Fatalf("again: %q, want x cleared", got)
	}
}

func TestReferences(t *testing.T) {
	s := mustParse(t, `
templates {
	base {
		version = 2
		proposals = aes128-sha256-modp2048
		local { auth = psk }
		children { net { esp_proposals = aes128gcm16 } }
	}
	extra {
		mobike = no
		remote { auth = psk }
	}
}
connections {
	gw : templates.base, templates.extra {
		remote_addrs = 192.0.2.2
		version = 1
		children {
			net { local_ts = 10.1.0.0/24 }
			web { local_ts = 10.3.0.0/24 }
		}
	}
}`)
	if got := kvString(s.KeyValues("connections.gw")); got != "remote_addrs=192.0.2.2|version=1|proposals=aes128-sha256-modp2048|mobike=no" {
		t.Fatalf("gw: %q", got)
	}
	// Own sub-sections first, then inherited ones, left to right.
	if got := s.SectionNames("connections.gw"); !reflect.DeepEqual(got, []string{"children", "local", "remote"}) {
		t.Fatalf("gw sections: %v", got)
	}
	if got := s.SectionNames("connections.gw.children"); !reflect.DeepEqual(got, []string{"net", "web"}) {
		t.Fatalf("children: %v", got)
	}
	// A sub-section merges with the same sub-section of the referenced one.
	if got := kvString(s.KeyValues("connections.gw.children.net")); got != "local_ts=10.1.0.0/24|esp_proposals=aes128gcm16" {
		t.Fatalf("net: %q", got)
	}
	if got := kvString(s.KeyValues("connections.gw.local")); got != "auth=psk" {
		t.Fatalf("local: %q", got)
	}
	if v, _ := s.Get("connections.gw.mobike"); v != "no" {
		t.Fatalf("get through a reference: %q", v)
	}
}

func TestReferenceLoopTerminates(t *testing.T) {
	s := mustParse(t, "a : b { x = 1 }\nb : a { y = 2 }\nc : c { z = 3 }\n")
	if got := kvString(s.KeyValues("a")); got != "x=1|y=2" {
		t.Fatalf("a: %q", got)
	}
	if got := kvString(s.KeyValues("c")); got != "z=3" {
		t.Fatalf("c: %q", got)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "swanctl.conf"), `
connections {
	include conf.d/*.conf
	zz { version = 2 }
}
include "other dir/secrets.conf" # quoted, with a blank
include missing/*.conf
include = not an include
`)
	writeFile(t, filepath.Join(dir, "conf.d", "b.conf"), "b { version = 1 }\n")
	writeFile(t, filepath.Join(dir, "conf.d", "a.conf"), "a { version = 1\n include ../nested/x.inc\n}\n")
	writeFile(t, filepath.Join(dir, "conf.d", "skip.txt"), "this is not read {\n")
	writeFile(t, filepath.Join(dir, "nested", "x.inc"), "remote_addrs = 192.0.2.9")
	writeFile(t, filepath.Join(dir, "other dir", "secrets.conf"), "secrets { ike-1 { secret = s3cr3t } }\n")
	s, err := ParseFile(context.Background(), filepath.Join(dir, "swanctl.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.SectionNames("connections"); !reflect.DeepEqual(got, []string{"a", "b", "zz"}) {
		t.Fatalf("connections %v: glob matches must be read in sorted order at the include", got)
	}
	if v, _ := s.Get("connections.a.remote_addrs"); v != "192.0.2.9" {
		t.Fatalf("nested include relative to its including file: %q", v)
	}
	if v, _ := s.Get("secrets.ike-1.secret"); v != "s3cr3t" {
		t.Fatalf("quoted include: %q", v)
	}
	if v, _ := s.Get("include"); v != "not an include" {
		t.Fatalf("include = …: %q", v)
	}
}

func TestIncludeLoop(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "swanctl.conf"), "include swanctl.conf\n")
	_, err := ParseFile(context.Background(), filepath.Join(dir, "swanctl.conf"))
	if err == nil || !strings.Contains(err.Error(), "include loop") {
		t.Fatalf("err = %v", err)
	}
}

// TestDepth: MaxDepth nested sections parse, one more is an error naming
// the line (before, a deep enough file overflowed the stack).
func TestDepth(t *testing.T) {
	nest := func(n int) string {
		return strings.Repeat("a {\n", n) + strings.Repeat("}\n", n)
	}
	s := mustParse(t, nest(MaxDepth)+"x = 1\n")
	if v, _ := s.Get("x"); v != "1" {
		t.Errorf("after %d levels: x = %q", MaxDepth, v)
	}
	_, err := Parse(context.Background(), "/x/deep.conf", []byte(nest(1_000_000)))
	want := fmt.Sprintf("/x/deep.conf:%d: sections nest deeper than %d levels", MaxDepth+1, MaxDepth)
	if err == nil || err.Error() != want {
		t.Errorf("1,000,000 levels: got %v, want %q", err, want)
	}
}

// TestQuote: a quoted value reads back as the string it quotes, whatever
// bytes it holds.
func TestQuote(t *testing.T) {
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	for _, v := range []string{"", "plain", `q"t\b` + "\t\n\r", "# } { = ,", "é\u2028", all.String()} {
		s := mustParse(t, "a = "+Quote(v)+"\n")
		if got, _ := s.Get("a"); got != v {
			t.Errorf("Quote(%q) = %s reads back as %q", v, Quote(v), got)
		}
	}
}
