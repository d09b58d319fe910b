package starlarkvici

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// eval evaluates a Starlark expression for test input.
func eval(t *testing.T, expr string) starlark.Value {
	t.Helper()
	v, err := starlark.EvalOptions(&syntax.FileOptions{}, &starlark.Thread{}, "test", expr, nil)
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// wire renders a message in a compact, order-preserving notation.
func wire(m *vici.Message) string {
	var b strings.Builder
	for i, e := range m.Entries() {
		if i > 0 {
			b.WriteString(" ")
		}
		switch e.Kind {
		case vici.KindValue:
			b.WriteString(e.Name + "=" + string(e.Value))
		case vici.KindList:
			items := make([]string, len(e.List))
			for j, it := range e.List {
				items[j] = string(it)
			}
			b.WriteString(e.Name + "=[" + strings.Join(items, ",") + "]")
		case vici.KindSection:
			b.WriteString(e.Name + "{" + wire(e.Section) + "}")
		}
	}
	return b.String()
}

func TestToMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{}`, ``},
		{`{"a": "x", "b": b"\x00\xff", "c": 42, "d": -1, "e": True, "f": False, "g": None}`, "a=x b=\x00\xff c=42 d=-1 e=yes f=no"},
		{`{"l": [], "d": {}}`, `l=[] d{}`},
		{`{"l": ["a", 1, True, b"z"], "t": ("x",)}`, `l=[a,1,yes,z] t=[x]`},
		{`{"z": 1, "a": 2, "m": 3}`, `z=1 a=2 m=3`},
		{`{"gw": {"children": {"net": {"local_ts": ["10.1.0.0/24"]}}, "version": 2}}`, `gw{children{net{local_ts=[10.1.0.0/24]}} version=2}`},
		{`{"big": 12345678901234567890123}`, `big=12345678901234567890123`},
	} {
		m, err := ToMessage(eval(t, tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := wire(m); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestToMessageKinds(t *testing.T) {
	m, err := ToMessage(eval(t, `{"l": [], "d": {}, "b": b"\x01"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []vici.Kind{vici.KindList, vici.KindSection, vici.KindValue}
	for i, e := range m.Entries() {
		if e.Kind != want[i] {
			t.Errorf("entry %s: kind %v, want %v", e.Name, e.Kind, want[i])
		}
	}
	if e, _ := m.Lookup("l"); e.List == nil || len(e.List) != 0 {
		t.Errorf("empty list: got %#v, want an empty non-nil list", e.List)
	}
}

func TestToMessageErrors(t *testing.T) {
	long := strings.Repeat("k", 256)
	for _, tc := range []struct{ in, want string }{
		{`{"a": 1.5}`, `a: cannot send a float`},
		{`{"gw": {"children": {"net": {"x": 1.5}}}}`, `gw.children.net.x: cannot send a float`},
		{`{"a": [1, [2]]}`, `a[1]: list items must be`},
		{`{"a": [None]}`, `a[0]: list items must be`},
		{`{"a": [{}]}`, `a[0]: list items must be`},
		{`{"s": {1: "x"}}`, `s: key 1 is int; section keys must be str`},
		{`{2: "x"}`, `top level: key 2 is int`},
		{`{"` + long + `": "x"}`, `is 256 bytes long; VICI names are at most 255 bytes`},
		{`{"a": {"` + long + `": "x"}}`, `a.` + long + `: key is 256 bytes long`},
		{`{"v": "` + strings.Repeat("x", 65536) + `"}`, `v: value is 65536 bytes long`},
		{`{"f": lambda: 1}`, `f: cannot send a function`},
	} {
		_, err := ToMessage(eval(t, tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: got error %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
	if _, err := ToMessage(starlark.String("x")); err == nil {
		t.Error("a str message was accepted")
	}
}

func TestNameLimit(t *testing.T) {
	name := strings.Repeat("n", 255)
	m, err := ToMessage(eval(t, `{"`+name+`": {"`+name+`": ["`+name+`"]}}`))
	if err != nil {
		t.Fatalf("255-byte names: %v", err)
	}
	if m.Section(name).List(name)[0] != name {
		t.Errorf("255-byte name not kept: %s", wire(m))
	}
	back := FromMessage(m)
	if got := back.String(); !strings.Contains(got, name) || len(got) < 3*255 {
		t.Errorf("FromMessage lost the 255-byte names: %.80s", got)
	}
}

func TestFromMessage(t *testing.T) {
	m := vici.NewMessage().
		Set("z", "last-first").
		SetBytes("bin", []byte{0x30, 0x82, 0xff, 0x00}).
		SetBytes("utf", []byte("grüß")).
		SetList("empty").
		SetSection("sec", vici.NewMessage()).
		SetList("l", "a", "b").
		SetBytesList("bl", [][]byte{{0xff}, []byte("ok")}).
		SetSection("nest", vici.NewMessage().SetSection("in", vici.NewMessage().Set("k", "v")))
	d := FromMessage(m)
	want := `{"z": "last-first", "bin": b"0\x82\xff\x00", "utf": "grüß", "empty": [], "sec": {}, "l": ["a", "b"], "bl": [b"\xff", "ok"], "nest": {"in": {"k": "v"}}}`
	if got := d.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if v, _, _ := d.Get(starlark.String("bin")); v.Type() != "bytes" || string(v.(starlark.Bytes)) != "0\x82\xff\x00" {
		t.Errorf("binary value: got %s %v, want the exact bytes", v.Type(), v)
	}
	if err := d.SetKey(starlark.String("new"), starlark.None); err != nil {
		t.Error("FromMessage returned a frozen dict; scripts must be able to change it")
	}
}

func TestRoundTrip(t *testing.T) {
	in := eval(t, `{"b": b"\x00\x01\xfe", "s": "x", "l": ["1", "2"], "e": [], "d": {"k": {"kk": "v"}, "x": {}}}`)
	m, err := ToMessage(in)
	if err != nil {
		t.Fatal(err)
	}
	got := FromMessage(m)
	if eq, err := starlark.Equal(got, in); err != nil || !eq {
		t.Errorf("round trip: got %s, want %s", got, in)
	}
}

func TestPresenceFlags(t *testing.T) {
	c, _ := commands().lookup("list_policies")
	for _, tc := range []struct{ in, want string }{
		{`{"drop": True, "pass": False, "trap": None, "child": "net"}`, `drop=yes child=net`},
		{`{"drop": False}`, ``},
	} {
		m, err := body(newConverter(context.Background()), "vici.list_policies", starlark.Tuple{eval(t, tc.in)}, c.top)
		if err != nil {
			t.Fatal(err)
		}
		if got := wire(m); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.in, got, tc.want)
		}
	}
	// not a presence key: False is sent as "no"
	c, _ = commands().lookup("rekey")
	m, _ := body(newConverter(context.Background()), "vici.rekey", starlark.Tuple{eval(t, `{"reauth": False}`)}, c.top)
	if got := wire(m); got != "reauth=no" {
		t.Errorf("reauth=False: got %q, want reauth=no", got)
	}
}

func TestLoadSchemas(t *testing.T) {
	conn, _ := commands().lookup("load_conn")
	pool, _ := commands().lookup("load_pool")
	auth, _ := commands().lookup("load_authority")
	for _, tc := range []struct {
		c    *Command
		in   string
		want string // wire form, or "!" + error substring
	}{
		{conn, `{"gw": {"remote_addrs": "192.0.2.2", "version": 2, "local": {"auth": "psk", "certs": "-----BEGIN CERTIFICATE-----"}, "children": {"net": {"esp_proposals": "aes128-sha256", "mode": "tunnel"}}}}`,
			`gw{remote_addrs=[192.0.2.2] version=2 local{auth=psk certs=[-----BEGIN CERTIFICATE-----]} children{net{esp_proposals=[aes128-sha256] mode=tunnel}}}`},
		{conn, `{"gw": {"local-1": {"cert-a": {"file": "x.pem"}}}}`, `gw{local-1{cert-a{file=x.pem}}}`},
		{conn, `{"gw": {"local": {"certs": ["gw.pem"]}}}`, `!gw.local.certs[0]: "gw.pem" looks like a file name; VICI wants the certificate or key itself`},
		{conn, `{"gw": {"remote": {"cacerts": "/etc/swanctl/x509ca/ca.crt"}}}`, `!gw.remote.cacerts: "/etc/swanctl/x509ca/ca.crt" looks like a file name`},
		{auth, `{"ca": {"cacert": "ca.pem"}}`, `!ca.cacert: "ca.pem" looks like a file name; VICI wants the certificate or key itself (PEM or DER) where swanctl.conf names a file: give file.read("ca.pem"), or load the whole swanctl.conf with swanctl.load_conf`},
		{auth, `{"ca": {"file": "/etc/swanctl/x509ca/ca.pem"}}`, `ca{file=/etc/swanctl/x509ca/ca.pem}`},
		{conn, `{"gw": {"Local_Addrs": "%any"}}`, `gw{Local_Addrs=[%any]}`},
		{conn, `{"gw": {"future_option": ["a"]}}`, `gw{future_option=[a]}`},
		{conn, `{"gw": {"version": [2]}}`, `!gw.version: the daemon wants a single value`},
		{conn, `{"gw": {"children": {"net": {"mode": ["tunnel"]}}}}`, `!gw.children.net.mode: the daemon wants a single value`},
		{conn, `{"gw": {"children": {"net": {"local_ts": 5}}}}`, `!gw.children.net.local_ts: the daemon wants a list here, got int`},
		{conn, `{"gw": {"remote_addrs": {"x": 1}}}`, `!gw.remote_addrs: the daemon wants a list here, got dict`},
		{conn, `{"gw": {"children": "net"}}`, `!gw.children: the daemon wants a dict (the children settings)`},
		{conn, `{"gw": {"local": "psk"}}`, `!gw.local: the daemon wants a dict (the authentication round settings)`},
		{conn, `{"remote_addrs": "192.0.2.2"}`, `!remote_addrs: the daemon wants a dict (the connection settings)`},
		{pool, `{"p": {"addrs": "10.3.0.0/24", "dns": "10.3.0.1", "7": ["x"]}}`, `p{addrs=10.3.0.0/24 dns=[10.3.0.1] 7=[x]}`},
		{pool, `{"p": {"addrs": ["10.3.0.0/24"]}}`, `!p.addrs: the daemon wants a single value`},
		{auth, `{"ca": {"cacert": b"\x30", "crl_uris": "http://x/crl"}}`, "ca{cacert=\x30 crl_uris=[http://x/crl]}"},
		{auth, `{"ca": {"cert_uri_base": ["x"]}}`, `!ca.cert_uri_base: the daemon wants a single value`},
	} {
		m, err := body(newConverter(context.Background()), "vici."+tc.c.Name, starlark.Tuple{eval(t, tc.in)}, tc.c.top)
		if strings.HasPrefix(tc.want, "!") {
			if err == nil || !strings.Contains(err.Error(), tc.want[1:]) {
				t.Errorf("%s %s: got error %v, want %q", tc.c.Name, tc.in, err, tc.want[1:])
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", tc.c.Name, tc.in, err)
			continue
		}
		if got := wire(m); got != tc.want {
			t.Errorf("%s %s:\ngot  %q\nwant %q", tc.c.Name, tc.in, got, tc.want)
		}
	}
}

func TestCommandTable(t *testing.T) {
	cmds := Commands()
	if len(cmds) != 36 {
		t.Errorf("%d commands, the VICI protocol has 36", len(cmds))
	}
	seen := map[string]bool{}
	for _, c := range cmds {
		if seen[c.Name] || seen[c.Wire] {
			t.Errorf("duplicate command %s", c.Name)
		}
		seen[c.Name], seen[c.Wire] = true, true
		if c.Wire != strings.ReplaceAll(c.Name, "_", "-") {
			t.Errorf("%s: wire name %s does not follow the _ for - rule", c.Name, c.Wire)
		}
		if c.Doc == "" || c.Reply == "" {
			t.Errorf("%s: missing doc or reply shape", c.Name)
		}
		for _, k := range c.Keys {
			if k.Doc == "" {
				t.Errorf("%s: key %s undocumented", c.Name, k.Name)
			}
		}
	}
	m := NewModule(Config{URI: "unix:///nonexistent"})
	for _, c := range cmds {
		if v, _ := m.Attr(c.Name); v == nil {
			t.Errorf("vici.%s missing from the module", c.Name)
		}
		text, ok := Help(mustAttr(t, m, c.Name))
		if !ok || !strings.Contains(text, c.Doc) || !strings.Contains(text, signature(&c)) {
			t.Errorf("help(vici.%s) = %q, %v", c.Name, text, ok)
		}
	}
	for _, d := range otherBuiltins() {
		if d.name == "close" {
			continue
		}
		text, ok := Help(mustAttr(t, m, d.name))
		if !ok || !strings.Contains(text, d.doc) {
			t.Errorf("help(vici.%s) = %q, %v", d.name, text, ok)
		}
	}
}

func mustAttr(t *testing.T, v starlark.HasAttrs, name string) starlark.Value {
	t.Helper()
	x, err := v.Attr(name)
	if err != nil || x == nil {
		t.Fatalf("attr %s: %v", name, err)
	}
	return x
}

func TestKeywordNamesAndReference(t *testing.T) {
	got := strings.Join(KeywordNames("vici.initiate"), " ")
	if got != "child ike timeout init_limits loglevel log deadline check" {
		t.Errorf("KeywordNames(vici.initiate) = %s", got)
	}
	if got := strings.Join(KeywordNames("list_sas"), " "); got != "noblock ike ike_id child child_id each deadline check" {
		t.Errorf("KeywordNames(list_sas) = %s", got)
	}
	if KeywordNames("vici.nope") != nil || KeywordNames("list-sas") != nil {
		t.Error("KeywordNames accepted a name that is not a builtin")
	}
	ref := Reference()
	for _, c := range Commands() {
		if !strings.Contains(ref, "`vici."+c.Name+"`") {
			t.Errorf("Reference lacks %s", c.Name)
		}
	}
	if !strings.Contains(ref, "`alert`") || !strings.Contains(ref, "6.0.3") {
		t.Error("Reference lacks the alert event and its version")
	}
	var help bytes.Buffer
	text, _ := Help(NewModule(Config{URI: "unix:///x.vici"}))
	help.WriteString(text)
	if !strings.Contains(help.String(), "unix:///x.vici") || !strings.Contains(help.String(), "listen(timeout=None") {
		t.Errorf("help(vici):\n%s", help.String())
	}
}

// hidden is a value that prints as a placeholder but sends its bytes, like
// the secrets swanctl.load_conf returns.
type hidden struct{ data []byte }

func (h hidden) String() string                 { return "<secret>" }
func (h hidden) Type() string                   { return "secret" }
func (h hidden) Freeze()                        {}
func (h hidden) Truth() starlark.Bool           { return true }
func (h hidden) Hash() (uint32, error)          { return 0, nil }
func (h hidden) MarshalBinary() ([]byte, error) { return h.data, nil }

func TestBinaryMarshalerValue(t *testing.T) {
	d := starlark.NewDict(1)
	d.SetKey(starlark.String("data"), hidden{[]byte("s3cret\x00")})
	m, err := ToMessage(d)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := m.Lookup("data"); string(e.Value) != "s3cret\x00" {
		t.Fatalf("data = %q, want the marshalled bytes", e.Value)
	}
}

// flatDict is a request of n keys, each with a short value.
func flatDict(n int) *starlark.Dict {
	d := starlark.NewDict(n)
	for i := range n {
		d.SetKey(starlark.String("k"+strconv.Itoa(i)), starlark.String("v"))
	}
	return d
}

func TestToMessageCancelled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted (Ctrl-C)")
	cancel(cause)
	// a big request (None values cost no packet space, so only the
	// context can end this conversion early) and a long list
	d := starlark.NewDict(0)
	for i := range 10 * checkEvery {
		d.SetKey(starlark.String("k"+strconv.Itoa(i)), starlark.None)
	}
	long := make([]starlark.Value, 10*checkEvery)
	for i := range long {
		long[i] = starlark.MakeInt(i)
	}
	withList := starlark.NewDict(1)
	withList.SetKey(starlark.String("l"), starlark.NewList(long))
	for _, v := range []*starlark.Dict{d, withList} {
		_, err := toMessage(ctx, v)
		if !errors.Is(err, cause) || !errors.Is(err, starctx.ErrInterrupted) || !strings.Contains(err.Error(), "converting the request: interrupted") {
			t.Errorf("conversion under a cancelled context: got %v, want it interrupted by %v", err, cause)
		}
	}
	if _, err := toMessage(context.Background(), d); err != nil {
		t.Errorf("the same dict without cancelling: %v", err)
	}
}

// BenchmarkToMessageFlat converts flat requests of growing size; ns/op
// grows in proportion to the key count (it grew with its square before
// entries were appended instead of looked up).
func BenchmarkToMessageFlat(b *testing.B) {
	for _, n := range []int{10000, 40000} {
		d := flatDict(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := ToMessage(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestKeyTypes: every request key is sent as charon reads it, and a value
// of another type is refused naming the key, the type wanted and the type
// given. timeout= is a duration sent as milliseconds.
func TestKeyTypes(t *testing.T) {
	for _, tc := range []struct {
		cmd, in string
		want    string // wire form, or "!" + the whole error
	}{
		{"list_sas", `{"ike": "gw", "ike-id": 5, "child-id": "7", "noblock": True}`, `ike=gw ike-id=5 child-id=7 noblock=yes`},
		{"list_sas", `{"ike": ["gw"]}`, `!vici.list_sas: ike: want str, got list (charon reads one value here and would ignore a list, as if the key were not given)`},
		{"list_sas", `{"ike": b"gw"}`, `!vici.list_sas: ike: want str, got bytes`},
		{"list_sas", `{"ike-id": "x1"}`, `!vici.list_sas: ike-id: want int (or a str of its digits), got str "x1"`},
		{"list_sas", `{"ike-id": 4294967296}`, `!vici.list_sas: ike-id: 4294967296 is out of range (charon reads a 32-bit int)`},
		{"list_sas", `{"ike-id": True}`, `!vici.list_sas: ike-id: want int, got bool`},
		{"list_sas", `{"noblock": 1}`, `!vici.list_sas: noblock: want bool, got int`},
		{"list_sas", `{"noblock": False, "ike": None}`, ``},
		{"list_sas", `{"future-key": ["x"]}`, `future-key=[x]`}, // a newer daemon's key passes
		{"terminate", `{"force": False, "timeout": 5}`, `force=no timeout=5000`},
		{"terminate", `{"timeout": "500ms"}`, `timeout=500`},
		{"terminate", `{"timeout": "1us"}`, `timeout=1`}, // not 0, which waits until done
		{"terminate", `{"timeout": 0.25}`, `timeout=250`},
		{"terminate", `{"timeout": 0}`, `timeout=0`},
		{"terminate", `{"timeout": -1}`, `timeout=-1`},
		{"terminate", `{"timeout": "2h"}`, `timeout=7200000`},
		{"terminate", `{"timeout": 3600}`, `timeout=3600000`},
		{"terminate", `{"timeout": -2}`, `!vici.terminate: timeout: want -1 (return at once), 0 (wait until done) or a duration, got -2`},
		{"terminate", `{"timeout": 10000}`, `!vici.terminate: timeout: 10000 seconds is more than an hour: timeout= is in seconds (not milliseconds, as charon and earlier vicish read it); write timeout=10 or timeout="10s" for ten seconds, or a longer wait with its unit, e.g. "2h"`},
		{"terminate", `{"timeout": "10000"}`, `!vici.terminate: timeout: "10000" seconds is more than an hour: timeout= is in seconds (not milliseconds, as charon and earlier vicish read it); write timeout=10 or timeout="10s" for ten seconds, or a longer wait with its unit, e.g. "2h"`},
		{"terminate", `{"timeout": "1000h"}`, `!vici.terminate: timeout: 1000h0m0s is longer than charon can wait (596h31m23.647s)`},
		{"terminate", `{"timeout": "soon"}`, `!vici.terminate: timeout: "soon" is not a duration (want seconds such as 10 or 1.5, or a string such as "5s" or "1m30s")`},
		{"terminate", `{"timeout": [5]}`, `!vici.terminate: timeout: want a duration, got list (charon reads one value here and would ignore a list, as if the key were not given)`},
		{"load_shared", `{"owners": "a", "data": b"\x00s"}`, "owners=[a] data=\x00s"},
		{"load_shared", `{"owners": ("a", "b")}`, `owners=[a,b]`},
		{"load_shared", `{"owners": {"a": 1}}`, `!vici.load_shared: owners: want list of str, got dict`},
		{"load_cert", `{"data": "ca.pem"}`, `!vici.load_cert: data: "ca.pem" looks like a file name; VICI wants the certificate or key itself (PEM or DER) where swanctl.conf names a file: give file.read("ca.pem"), or load the whole swanctl.conf with swanctl.load_conf`},
		{"load_key", `{"data": "/etc/swanctl/private/gw.key"}`, `!vici.load_key: data: "/etc/swanctl/private/gw.key" looks like a file name`},
		{"load_cert", `{"data": b"\x30\x82"}`, "data=\x30\x82"},
		{"get_pools", `{"leases": "yes"}`, `!vici.get_pools: leases: want bool, got str`},
	} {
		c, _ := commands().lookup(tc.cmd)
		m, err := body(newConverter(context.Background()), "vici."+tc.cmd, starlark.Tuple{eval(t, tc.in)}, c.top)
		if strings.HasPrefix(tc.want, "!") {
			if err == nil || !strings.HasPrefix(err.Error(), tc.want[1:]) {
				t.Errorf("%s %s: got error %v, want %q", tc.cmd, tc.in, err, tc.want[1:])
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", tc.cmd, tc.in, err)
			continue
		}
		if got := wire(m); got != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.cmd, tc.in, got, tc.want)
		}
	}
	// Every key of the table is typed, and help() shows the type.
	for _, c := range Commands() {
		h := commandHelp(&c)
		for _, k := range c.Keys {
			if !strings.Contains(h, fmt.Sprintf("  %-12s %-12s %s", k.Keyword(), k.Type, k.Doc)) {
				t.Errorf("help(vici.%s) does not show %s as %s:\n%s", c.Name, k.Keyword(), k.Type, h)
			}
		}
	}
}
