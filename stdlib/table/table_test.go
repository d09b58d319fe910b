package table_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/display"
	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/stdlib/table"
)

// eval evaluates expr with the table module and returns the string result.
func eval(t *testing.T, expr string) (string, error) {
	t.Helper()
	thread := &starlark.Thread{Name: "test"}
	v, err := starlark.EvalOptions(&syntax.FileOptions{}, thread, "test.star", expr, starlark.StringDict{"table": table.NewModule(nil)})
	if err != nil {
		return "", err
	}
	switch v := v.(type) {
	case display.Text:
		return string(v), nil
	case starlark.String:
		return string(v), nil
	}
	t.Fatalf("%s returned %s, want text or a string", expr, v.Type())
	return "", nil
}

func TestRender(t *testing.T) {
	for _, tc := range []struct{ name, expr, want string }{
		{"dicts", `table.render([
    {"name": "ab", "state": "ESTABLISHED", "bytes": 12345, "ts": ["10.1.0.0/24", "10.3.0.0/24"]},
    {"name": "primary", "state": "CONNECTING", "bytes": 7, "extra": None}])`,
			"name     state        bytes  ts                        extra\n" +
				"ab       ESTABLISHED  12345  10.1.0.0/24, 10.3.0.0/24\n" +
				"primary  CONNECTING       7"},
		{"chosen columns", `table.render([{"a": "1", "b": "x"}, {"a": "22"}], columns=["b", ("a", "A")])`,
			"b  A\nx  1\n   22"},
		{"lists with header", `table.render([["a", 1], ("bbb", 22, "extra")], columns=["name", "n"])`,
			"name   n\na      1\nbbb   22  extra"},
		{"lists without header", `table.render([["x", "y"], ["longer", "z"]])`,
			"x       y\nlonger  z"},
		{"numbers", `table.render([{"f": 1.5, "n": -3}, {"f": 10.25, "n": 100}])`,
			"    f    n\n  1.5   -3\n10.25  100"},
		{"header wider than numbers", `table.render([{"packets": 3}])`, "packets\n      3"},
		{"control characters", `table.render([{"msg": "two\nlines\tok"}])`, "msg\ntwo lines ok"},
		{"unicode width", `table.render([{"k": "äöü", "v": "x"}, {"k": "a", "v": "y"}])`,
			"k    v\näöü  x\na    y"},
		{"empty", `table.render([])`, ""},
		{"empty with header", `table.render([], columns=["name", "state"])`, "name  state"},
		{"other values", `table.render([[True, {"a": 1}]])`, `True  {"a": 1}`},
	} {
		got, err := eval(t, tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", tc.name, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`table.render(1)`, "table.render: for parameter rows: got int, want iterable"},
		{`table.render({"a": 1})`, "table.render: got a dict, want a list of rows: table.render([d]) for one row, table.render(d.items()) for one row per key"},
		{`table.render([{"a": 1}, ["b"]])`, "table.render: row 1 is list, but row 0 is a dict"},
		{`table.render([["a"], "b"])`, "table.render: row 1 is string, want a dict, list or tuple"},
		{`table.render([], columns=[1])`, "table.render: columns[0]: got int, want a key (string) or a (key, header) pair"},
		{`table.conns(1)`, "table.conns: got int, want the list vici.list_conns returns"},
		{`table.conns([1])`, "table.conns: element 0 is int, want a dict"},
		{`table.conns({"c": []})`, "table.conns: connection c is list, want a dict"},
		{`table.conns({"c": {"children": 1}})`, "table.conns: connection c: children is int, want a dict"},
		{`table.sas(1)`, "table.sas: got int, want the list vici.list_sas returns"},
		{`table.sas(["gw"])`, "table.sas: element 0 is string, want a dict"},
		{`table.sas()`, "table.sas: no sas given, and no vici session to ask for them"},
		{`table.sas([], [])`, "table.sas: got 2 positional arguments, want at most 1 (sas)"},
		{`table.sas([], sas=[])`, `table.sas: got multiple values for parameter "sas"`},
		{`table.pools({}, leases=True)`, "table.pools: keyword leases= is passed to vici.get_pools, which is not called when pools are given"},
		{`table.pools([])`, "table.pools: the pools (what vici.get_pools returns) is list, want a dict"},
		{`table.counters({"success": "no", "errmsg": "no counters found for 'x'"})`, "table.counters: get-counters failed: no counters found for 'x'"},
		{`table.certs([{"type": "X509", "flag": "NONE"}])`, "table.certs: certificate 0: no data"},
		{`table.certs([{"type": "X509", "flag": "NONE", "data": b"junk"}])`, "table.certs: certificate 0: x509: malformed certificate"},
		{`table.certs([{"type": "ANY", "data": b""}])`, "table.certs: certificate 0: unsupported certificate type 'ANY'"},
		{`table.certs([{"type": "X509", "flag": "ANY", "data": b""}])`, "table.certs: certificate 0: unsupported certificate flag 'ANY'"},
		{`table.log()`, "table.log: got 0 arguments, want 1"},
		{`table.log([])`, "table.log: got list, want a dict (a log or control-log event)"},
		{`table.counters({"a": {}})`, `table.counters: got a dict without "success", want what vici.get_counters returns`},
		{`table.sas([{"ab": {"local_addrs": ["192.0.2.1"], "remote_addrs": ["192.0.2.2"], "version": "IKEv2", "children": {"net": {"mode": "TUNNEL"}}}}])`, `table.sas: IKE_SA ab looks like an entry of vici.list_conns (it has "local_addrs"), want what vici.list_sas returns`},
		{`table.conns([{"ab": {"uniqueid": "1", "version": "2", "state": "ESTABLISHED", "child-sas": {"net-1": {"name": "net"}}}}])`, `table.conns: connection ab looks like an entry of vici.list_sas (it has "child-sas"), want what vici.list_conns returns`},
		{`table.pols([{"ab": {"uniqueid": "1", "version": "2", "state": "ESTABLISHED", "child-sas": {"net-1": {"name": "net"}}}}])`, `table.pols: policy ab looks like an entry of vici.list_sas (it has "child-sas"), want what vici.list_policies returns`},
		{`table.authorities([{"ab": {"local_addrs": ["192.0.2.1"], "remote_addrs": ["192.0.2.2"], "version": "IKEv2", "children": {"net": {"mode": "TUNNEL"}}}}])`, `table.authorities: authority ab looks like an entry of vici.list_conns (it has "local_addrs"), want what vici.list_authorities returns`},
		{`table.certs([], utc="yes")`, `table.certs: for parameter "utc": got string, want bool`},
		{`table.sas([{"gw": "up"}])`, "table.sas: IKE_SA gw is string, want a dict"},
		{`table.sas({"gw": {"child-sas": []}})`, "table.sas: IKE_SA gw: child-sas is list, want a dict"},
		{`table.sas({"gw": {"child-sas": {"net-1": 1}}})`, "table.sas: IKE_SA gw: CHILD_SA net-1 is int, want a dict"},
	} {
		_, err := eval(t, tc.expr)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got error %v, want %q", tc.expr, err, tc.want)
		}
	}
}

// responder is a list-sa event as a responder sees it, with the optional
// fields swanctl prints when present (virtual IPs, EAP identity, marks,
// interface IDs, compression, UDP encapsulation, ESN, extra key exchanges,
// queued tasks).
const responder = `{"rw": {
    "uniqueid": "7", "version": "2", "state": "ESTABLISHED",
    "local-host": "192.0.2.1", "local-port": "4500", "local-id": "gw.example.org",
    "remote-host": "198.51.100.9", "remote-port": "4500", "remote-id": "C=CH, O=Example, CN=carol",
    "remote-eap-id": "carol", "remote-vips": ["10.9.0.1", "fd00::1"],
    "initiator-spi": "aa11", "responder-spi": "bb22",
    "encr-alg": "AES_GCM_16", "encr-keysize": "256", "prf-alg": "PRF_HMAC_SHA2_384",
    "dh-group": "ECP_384", "ake1": "ML_KEM_768",
    "established": "120", "reauth-time": "3000", "life-time": "3600",
    "tasks-queued": ["IKE_DPD", "CHILD_REKEY"],
    "child-sas": {
        "rw-9": {"name": "rw", "uniqueid": "9", "reqid": "3", "state": "INSTALLED", "mode": "TUNNEL",
            "protocol": "ESP", "encap": "yes", "spi-in": "c0000001", "spi-out": "c0000002",
            "cpi-in": "1000", "cpi-out": "2000", "mark-in": "00000042", "mark-mask-in": "ffffffff",
            "if-id-out": "00000007",
            "encr-alg": "AES_CBC", "encr-keysize": "128", "integ-alg": "HMAC_SHA2_256_128",
            "dh-group": "CURVE_25519", "esn": "1",
            "bytes-in": "1234567", "packets-in": "890", "bytes-out": "0", "packets-out": "0",
            "install-time": "110", "life-time": "3490",
            "local-ts": ["0.0.0.0/0", "::/0"], "remote-ts": ["10.9.0.1/32"]},
        "x-10": {"uniqueid": "10", "reqid": "4", "state": "REKEYED", "mode": "TRANSPORT", "protocol": "AH",
            "spi-in": "d1", "spi-out": "d2", "integ-alg": "HMAC_SHA1_96",
            "bytes-in": "0", "packets-in": "0", "bytes-out": "0", "packets-out": "0",
            "install-time": "5", "local-ts": [], "remote-ts": []},
    },
}}`

func TestSAs(t *testing.T) {
	want := `rw: #7, ESTABLISHED, IKEv2, aa11_i bb22_r*
  local  'gw.example.org' @ 192.0.2.1[4500]
  remote 'C=CH, O=Example, CN=carol' @ 198.51.100.9[4500] EAP: 'carol' [10.9.0.1 fd00::1]
  AES_GCM_16-256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768
  established 120s ago, reauth in 3000s, expires in 3600s
  queued:  IKE_DPD CHILD_REKEY
  rw: #9, reqid 3, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-128/HMAC_SHA2_256_128/CURVE_25519/ESN
    installed 110s ago, expires in 3490s
    in  c0000001/1000 (0x00000042/0xffffffff), 1234567 bytes,   890 packets
    out c0000002/2000 (-|0x00000007),      0 bytes,     0 packets
    local  0.0.0.0/0 ::/0
    remote 10.9.0.1/32
  x-10: #10, reqid 4, REKEYED, TRANSPORT, AH:HMAC_SHA1_96
    installed 5s ago
    in  d1,      0 bytes,     0 packets
    out d2,      0 bytes,     0 packets
    local  (null)
    remote (null)`
	for _, expr := range []string{"table.sas([" + responder + "])", "table.sas(" + responder + ")"} {
		got, err := eval(t, expr)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("got:\n%s\nwant:\n%s", got, want)
		}
	}
	if got, err := eval(t, `table.sas([])`); err != nil || got != "" {
		t.Errorf("table.sas([]) = %q, %v; want empty", got, err)
	}
	if got, err := eval(t, `table.sas([{"a": {}}, {"b": {"state": "CONNECTING"}}])`); err != nil ||
		got != "a: #(null), (null), IKEv(null), (null)_i (null)_r*\n  local  '(null)' @ (null)[(null)]\n  remote '(null)' @ (null)[(null)]\n"+
			"b: #(null), CONNECTING, IKEv(null), (null)_i (null)_r*\n  local  '(null)' @ (null)[(null)]\n  remote '(null)' @ (null)[(null)]" {
		t.Errorf("sparse SAs: got %q, %v", got, err)
	}
	// swanctl skips values that are not printable ASCII, and prints what it
	// did not find as C's printf does.
	if got, err := eval(t, `table.sas({"a": {"local-id": "z\u00fcrich", "local-host": b"\x01", "remote-vips": ["10.0.0.1", "\u00fc"]}})`); err != nil ||
		!strings.Contains(got, "  local  '(null)' @ (null)[(null)]\n  remote '(null)' @ (null)[(null)] [10.0.0.1]") {
		t.Errorf("non-printable values: got %q, %v", got, err)
	}
}

// TestConns covers what the lab comparison (lab_test.go) does not reach:
// listening ports (newer daemons send them), PPK and labels.
func TestConns(t *testing.T) {
	got, err := eval(t, `table.conns([{"c": {
    "local_addrs": ["192.0.2.1"], "remote_addrs": ["%any"], "local_port": "4500", "remote_port": "500",
    "version": "IKEv1", "rekey_time": "3600", "dpd_delay": "0", "ppk_id": "ppk1", "ppk_required": "yes",
    "local-1": {"class": "EAP"},
    "children": {"k": {"mode": "DROP", "rekey_time": "60", "label": "73797374656d5f753a6f626a6563745f723a69707365635f7370645f743a733000",
        "local-ts": ["dynamic"], "remote-ts": ["dynamic"]}}}},
  {"d": {"version": "IKEv2", "ppk_required": "no"}}])`)
	want := `c: IKEv1, reauthentication every 3600s
  ppk: ppk1, required
  local:  192.0.2.1[4500]
  remote: %any[500]
  local EAP authentication:
  k: DROP, no rekeying
    label:  system_u:object_r:ipsec_spd_t:s0
    local:  dynamic
    remote: dynamic
d: IKEv2, no reauthentication, no rekeying
  ppk: not required`
	if err != nil || got != want {
		t.Errorf("got %v:\n%s\nwant:\n%s", err, got, want)
	}
}

func TestModule(t *testing.T) {
	assert, err := starlarktest.LoadAssertModule()
	if err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{Name: "test"}
	starlarktest.SetReporter(thread, t)
	_, err = starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "test.star", `
assert.eq(dir(table), ["algs", "authorities", "certs", "conns", "counters", "log", "pols", "pools", "render", "sas", "stats"])
assert.eq(str(table.sas), "<built-in function table.sas>")
assert.eq(type(table.sas([])), "text")
assert.eq(type(table.render([])), "text")
assert.eq(type(table.log({"msg": "x"})), "string")
assert.eq(str(table.pols({"p": {"mode": "PASS"}})).splitlines()[0], "p, PASS")
`, starlark.StringDict{"table": table.NewModule(nil), "assert": assert["assert"]})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRenderHostile feeds render values that contain themselves or nest
// very deeply: each cell stays bounded, as Starlark prints cycles.
func TestRenderHostile(t *testing.T) {
	const src = `
l = [1]
l.append(l)
d = {"k": "v"}
d["self"] = d
deep = []
x = deep
for i in range(100000):
    y = []
    x.append(y)
    x = y
dd = {}
x = dd
for i in range(100000):
    y = {}
    x["n"] = y
    x = y
cycle = table.render([[l]])
dict_cycle = table.render([{"d": d}])
in_dict = table.render([{"d": {"l": l}}])
deep_list = table.render([[deep]])
deep_dict = table.render([[dd]])
`
	thread := &starlark.Thread{Name: "test"}
	opts := &syntax.FileOptions{While: true, TopLevelControl: true, GlobalReassign: true}
	g, err := starlark.ExecFileOptions(opts, thread, "hostile.star", src, starlark.StringDict{"table": table.NewModule(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"cycle":      "1, [...]",
		"dict_cycle": "d\n" + `{"k": "v", "self": {...}}`,
		"in_dict":    "d\n" + `{"l": [1, [...]]}`,
		"deep_list":  "...",
		"deep_dict":  strings.Repeat(`{"n": `, 16) + "..." + strings.Repeat("}", 16),
	} {
		if got := g[name].String(); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// TestLogText checks table.log's two layouts: a log event as swanctl --log
// prints it (thread number of at least two digits, group, one prefix per
// line of a multi-line message) and a control-log event (no thread) as
// swanctl --initiate prints it.
func TestLogText(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`table.log({"group": "IKE", "level": "1", "thread": "5", "msg": "initiating IKE_SA ab[1] to 192.0.2.2"})`,
			"05[IKE] initiating IKE_SA ab[1] to 192.0.2.2"},
		{`table.log({"group": "CFG", "level": "1", "thread": "123", "msg": "two\nlines"})`, "123[CFG] two\n123[CFG] lines"},
		{`table.log({"thread": "-3", "msg": "x"})`, "-03[   ] x"},
		{`table.log({"thread": "1", "group": "NET"})`, ""},
		{`table.log({"group": "IKE", "level": "1", "ikesa-name": "ab", "msg": "IKE_SA deleted"})`, "[IKE] IKE_SA deleted"},
		{`table.log({"msg": "a\nb"})`, "[   ] a\nb"},
	} {
		got, err := eval(t, tc.expr)
		if err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.expr, got, err, tc.want)
		}
	}
}

// TestPolsLayout checks how table.pols picks swanctl's layout for data it
// is given: with a reqid on any policy (strongSwan 6.x sends them for trap
// policies) every policy shows one, "(null)" where missing, as swanctl 6.x
// prints; without any (5.x), none.
func TestPolsLayout(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{`table.pols([{"c/t": {"mode": "TUNNEL", "reqid": "1", "local-ts": ["10.1.0.0/24"], "remote-ts": ["10.2.0.0/24"]}},
		              {"c/d": {"mode": "DROP", "local-ts": ["10.1.0.0/24"], "remote-ts": ["10.3.0.0/24", "10.4.0.0/24"]}}])`,
			"c/t, reqid 1, TUNNEL\n  local:  10.1.0.0/24\n  remote: 10.2.0.0/24\n" +
				"c/d, reqid (null), DROP\n  local:  10.1.0.0/24\n  remote: 10.3.0.0/24 10.4.0.0/24"},
		{`table.pols({"c/p": {"mode": "PASS", "local-ts": ["10.1.0.0/24"], "remote-ts": ["10.5.0.0/24"]}})`,
			"c/p, PASS\n  local:  10.1.0.0/24\n  remote: 10.5.0.0/24"},
	} {
		got, err := eval(t, tc.expr)
		if err != nil || got != tc.want {
			t.Errorf("%s:\ngot %q, %v\nwant %q", tc.expr, got, err, tc.want)
		}
	}
}

// TestListingsHostile gives the listings what a careless or hostile script
// might: values inside themselves, huge inputs and wrong kinds. Each ends
// with a text or a clear error, never a crash or a hang.
func TestListingsHostile(t *testing.T) {
	src := `
l = ["10.0.0.0/8"]
l.append(l)
d = {}
d["leases"] = d
pool = {"p": {"base": "10.3.0.0", "size": "14", "online": "0", "offline": "0", "leases": d}}
sa = table.sas({"gw": {"local-id": l, "child-sas": {"c": {"local-ts": l}}}})
pol = table.pols({"p": {"mode": "PASS", "local-ts": l, "remote-ts": l}})
pools = table.pools(pool)
many = table.algs({"t": {str(i): "p" for i in range(100000)}})
`
	thread := &starlark.Thread{Name: "test"}
	g, err := starlark.ExecFileOptions(&syntax.FileOptions{TopLevelControl: true}, thread, "hostile.star", src,
		starlark.StringDict{"table": table.NewModule(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"sa":    "  local  '10.0.0.0/8 10.0.0.0/8, [...]' @ (null)[(null)]",
		"pol":   "  local:  10.0.0.0/8 10.0.0.0/8, [...]",
		"pools": "p" + strings.Repeat(" ", 20) + "10.3.0.0" + strings.Repeat(" ", 29) + "0 / 0 / 14\n  " + strings.Repeat(" ", 40) + "''",
		"many":  "  99999[p]",
	} {
		if got := g[name].String(); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", name, got, want)
		}
	}
}

// TestInterrupted: table.render and a listing under a cancelled context
// stop with the cancellation's cause instead of rendering on.
func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("interrupted (Ctrl-C)")
	cancel(cause)
	thread := &starlark.Thread{Name: "test"}
	release := starctx.Attach(thread, ctx)
	defer release()
	rows := make([]starlark.Value, 1000)
	sas := make([]starlark.Value, 1000)
	for i := range rows {
		rows[i] = starlark.NewList([]starlark.Value{starlark.MakeInt(i)})
		d := starlark.NewDict(1)
		_ = d.SetKey(starlark.String("gw"), starlark.NewDict(0))
		sas[i] = d
	}
	for fn, arg := range map[string][]starlark.Value{"render": rows, "sas": sas} {
		_, err := starlark.Call(thread, table.NewModule(nil).Members[fn], starlark.Tuple{starlark.NewList(arg)}, nil)
		if !errors.Is(err, cause) || !errors.Is(err, starctx.ErrInterrupted) {
			t.Errorf("table.%s under a cancelled context: got %v, want %v", fn, err, cause)
		}
	}
}

// TestCertsUndecoded: a kind of certificate vicish does not decode (an
// attribute certificate, an OCSP response) gets swanctl's caption and a
// line saying so; the listing goes on.
func TestCertsUndecoded(t *testing.T) {
	got, err := eval(t, `table.certs([{"type": "OCSP_RESPONSE", "data": b"12345"}, {"type": "X509_AC", "data": b"123"}])`)
	want := "\nList of OCSP Responses\n\n  (5 bytes; vicish decodes X509, X509_CRL and PUBKEY, not OCSP_RESPONSE)\n" +
		"\nList of X.509 Attribute Certificates\n\n  (3 bytes; vicish decodes X509, X509_CRL and PUBKEY, not X509_AC)"
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
}
