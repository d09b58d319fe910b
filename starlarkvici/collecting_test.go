package starlarkvici

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// TestCollecting checks when Config.Collecting is called: around a
// streamed listing collected into a list, not for one with each= nor for a
// plain command, and its done function once the list is complete.
func TestCollecting(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	var (
		mu    sync.Mutex
		trace []string
	)
	mark := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		trace = append(trace, s)
	}
	mod := NewModule(Config{URI: l.Gateway("a").URI, Collecting: func() func() {
		mark("start")
		return func() { mark("done") }
	}})
	defer mod.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.LoadConns(ctx, "a", 3); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ src, want string }{
		{`vici.version()`, ""},
		{`vici.list_conns(each=lambda e: None)`, ""},
		{`vici.list_sas()`, "start done"},
		{`
conns = vici.list_conns()
if len(conns) < 3:
    fail("listed %d connections, want the 3 loaded" % len(conns))
`, "start done"},
		{`vici.list_conns(ike="no-such-conn")`, "start done"},
	} {
		trace = nil
		if err := runWith(t, l, mod, &syncBuffer{}, "collecting.star", tc.src, ctx); err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		mu.Lock()
		got := strings.Join(trace, " ")
		mu.Unlock()
		if got != tc.want {
			t.Errorf("%s: Collecting calls %q, want %q", strings.TrimSpace(tc.src), got, tc.want)
		}
	}
}
