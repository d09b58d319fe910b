package swanctl

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// recorder is a VICI endpoint that records the commands a client sends and
// answers them as an empty daemon would. The daemon never shows the
// requests it received, so this is how the tests see exactly what swanctl
// sends.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	command string
	body    *vici.Message
}

func startRecorder(t *testing.T) (uri string, rec *recorder) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "rec.vici")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	rec = &recorder{}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go rec.serve(conn)
		}
	}()
	return "unix://" + sock, rec
}

func (r *recorder) serve(conn net.Conn) {
	defer conn.Close()
	for {
		var n uint32
		if err := binary.Read(conn, binary.BigEndian, &n); err != nil {
			return
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(conn, seg); err != nil || n < 2 || seg[0] != 0 { // CMD_REQUEST
			return
		}
		name := string(seg[2 : 2+int(seg[1])])
		body := vici.NewMessage()
		if err := body.UnmarshalBinary(seg[2+int(seg[1]):]); err != nil {
			return
		}
		r.mu.Lock()
		r.requests = append(r.requests, recorded{name, body})
		r.mu.Unlock()
		reply := vici.NewMessage()
		switch name {
		case "get-keys", "get-shared":
			reply.SetList("keys")
		case "get-conns":
			reply.SetList("conns")
		case "get-authorities":
			reply.SetList("authorities")
		case "get-pools":
		default:
			reply.Set("success", "yes")
		}
		data, err := reply.MarshalBinary()
		if err != nil {
			return
		}
		out := binary.BigEndian.AppendUint32(nil, uint32(len(data)+1))
		out = append(append(out, 1), data...) // CMD_RESPONSE
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

func (r *recorder) loads() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for _, q := range r.requests {
		if !strings.HasPrefix(q.command, "load-") || q.command == "load-key" {
			continue
		}
		out[q.command+" "+describe(q.command, q.body)] = dumpExact(q.body)
	}
	return out
}

// describe names a load request by its item.
func describe(cmd string, m *vici.Message) string {
	switch cmd {
	case "load-shared":
		return m.Get("id")
	case "load-cert":
		return m.Get("type") + "/" + m.Get("flag") + "/" + quote(toDER([]byte(m.Get("data"))))
	}
	if keys := m.Keys(); len(keys) == 1 {
		return keys[0]
	}
	return dumpExact(m)
}

// dumpExact is dump with values quoted, so that blanks and separators in
// values cannot hide differences.
func dumpExact(m *vici.Message) string {
	var b strings.Builder
	for _, e := range m.Entries() {
		switch e.Kind {
		case vici.KindSection:
			b.WriteString(e.Name + "{" + dumpExact(e.Section) + "}")
		case vici.KindList:
			b.WriteString(e.Name + "[")
			for _, it := range e.List {
				b.WriteString(quote(it) + ",")
			}
			b.WriteString("]")
		default:
			b.WriteString(e.Name + "=" + quote(e.Value))
		}
		b.WriteString(" ")
	}
	return b.String()
}

func quote(b []byte) string {
	if len(b) > 60 {
		return fmt.Sprintf("<%d bytes, sha256 %.16x>", len(b), sha256.Sum256(b))
	}
	return strconv.Quote(string(b))
}

// TestTranslationMatchesSwanctl runs the real swanctl --load-all against a
// recorder and compares every load request it sends (but load-key, which
// swanctl re-encodes after parsing the key itself) with the translation.
func TestTranslationMatchesSwanctl(t *testing.T) {
	if _, err := exec.LookPath("swanctl"); err != nil {
		labtest.SkipOffCI(t, "swanctl is not installed: "+err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := copyTestdata(t)
	goCerts(t, dir)
	syntax, err := filepath.Abs(filepath.Join("testdata", "syntax", "swanctl.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "swanctl.conf"), filepath.Join(dir, "shrunk.conf"), syntax} {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			uri, rec := startRecorder(t)
			cmd := exec.CommandContext(ctx, "swanctl", "--load-all", "--noprompt", "--uri", uri, "--file", path)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("swanctl: %v\n%s", err, out)
			}
			want := rec.loads()
			conf, err := loadConf(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, it := range conf.Items {
				if it.Err != nil {
					t.Fatalf("%s %s: %v", it.Kind, it.Name, it.Err)
				}
				cmd := map[string]string{KindCert: "load-cert", KindShared: "load-shared", KindToken: "load-token",
					KindAuthority: "load-authority", KindPool: "load-pool", KindConn: "load-conn"}[it.Kind]
				if cmd != "" {
					got[cmd+" "+describe(cmd, it.Body)] = dumpExact(it.Body)
				}
			}
			if len(want) < 6 {
				t.Fatalf("swanctl sent only %d load requests: %v", len(want), want)
			}
			for k, w := range want {
				if g, ok := got[k]; !ok {
					t.Errorf("swanctl sent %s, the translation has no such request", k)
				} else if g != w {
					t.Errorf("%s differs\nswanctl: %s\nvicish:  %s", k, w, g)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("the translation has %s, swanctl did not send it", k)
				}
			}
		})
	}
}
