package vici_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// connName returns the name of the one connection a list-conn entry holds,
// copied (m may be released).
func connName(t *testing.T, m *vici.Message) string {
	t.Helper()
	keys := m.Keys()
	if len(keys) != 1 {
		t.Fatalf("list-conn entry with keys %v, want one", keys)
	}
	return strings.Clone(keys[0])
}

// TestCharonReleaseRecycles lists 300 connections with a consumer that
// keeps every seventh entry (and releases a sub-section of it, which does
// nothing) and releases the others: every entry reads right when it
// arrives, and the kept ones still do after the later entries were read
// into the released ones' memory. Releasing makes the listing allocate
// less than half as often as keeping every entry, with either callback
// form.
func TestCharonReleaseRecycles(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	ctx := charonCtx(t, 2*time.Minute)
	const n = 300
	if err := l.LoadConns(ctx, "a", n); err != nil {
		t.Fatal(err)
	}
	c := dialGateway(t, l.Gateway("a"), vici.Options{})
	for _, inline := range []bool{false, true} {
		stream := c.CallStream
		form := "CallStream"
		if inline {
			stream, form = c.CallStreamInline, "CallStreamInline"
		}
		type kept struct {
			m        *vici.Message
			name, id string // as read on arrival
		}
		var keep []kept
		seen := map[string]bool{}
		_, err := stream(ctx, "list-conns", "list-conn", nil, func(m *vici.Message) error {
			name := connName(t, m)
			if seen[name] {
				return fmt.Errorf("%s listed twice", name)
			}
			seen[name] = true
			conn := m.Section(name)
			if got := conn.List("remote_addrs"); len(got) != 1 || got[0] != "203.0.113.1" {
				return fmt.Errorf("%s: remote_addrs %v", name, got)
			}
			if len(seen)%7 == 0 {
				conn.Release() // a section: does nothing
				keep = append(keep, kept{m, name, strings.Clone(conn.Section("local-1").Get("id"))})
				return nil
			}
			m.Release()
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", form, err)
		}
		if len(seen) != n || len(keep) != n/7 {
			t.Fatalf("%s: %d entries, %d kept", form, len(seen), len(keep))
		}
		for _, k := range keep {
			if got := connName(t, k.m); got != k.name {
				t.Fatalf("%s: a kept entry of %s now names %s", form, k.name, got)
			}
			if got := k.m.Section(k.name).Section("local-1").Get("id"); got != k.id || got != k.name+".a" {
				t.Fatalf("%s: kept entry %s: local id %q, was %q", form, k.name, got, k.id)
			}
		}

		list := func(release bool) func() {
			return func() {
				count := 0
				_, err := stream(ctx, "list-conns", "list-conn", nil, func(m *vici.Message) error {
					count++
					if release {
						m.Release()
					}
					return nil
				})
				if err != nil || count != n {
					t.Fatalf("%s: %d entries, %v", form, count, err)
				}
			}
		}
		keptAllocs := testing.AllocsPerRun(3, list(false))
		releasedAllocs := testing.AllocsPerRun(3, list(true))
		t.Logf("%s: %.0f allocations a listing of %d keeping every entry, %.0f releasing them", form, keptAllocs, n, releasedAllocs)
		if releasedAllocs > keptAllocs/2 {
			t.Errorf("%s: releasing every entry: %.0f allocations, keeping them: %.0f; want less than half", form, releasedAllocs, keptAllocs)
		}
	}
}

// TestCharonStreamInlinePanic: a panic in CallStreamInline's fn, which
// runs on the reader's goroutine, comes out of CallStreamInline on the
// caller's, and the client goes on working.
func TestCharonStreamInlinePanic(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	ctx := charonCtx(t, 2*time.Minute)
	const n = 100
	if err := l.LoadConns(ctx, "a", n); err != nil {
		t.Fatal(err)
	}
	c := dialGateway(t, l.Gateway("a"), vici.Options{})
	boom := errors.New("boom")
	calls := 0
	got := func() (v any) {
		defer func() { v = recover() }()
		c.CallStreamInline(ctx, "list-conns", "list-conn", nil, func(*vici.Message) error {
			if calls++; calls == 3 {
				panic(boom)
			}
			return nil
		})
		return nil
	}()
	if got != boom || calls != 3 {
		t.Fatalf("recovered %v after %d calls, want the panic of the third", got, calls)
	}
	if v := mustCall(t, ctx, c, "version", nil); v.Get("daemon") != "charon" {
		t.Fatalf("version after the panic: keys %v", v.Keys())
	}
	count := 0
	if _, err := c.CallStreamInline(ctx, "list-conns", "list-conn", nil, func(*vici.Message) error {
		count++
		return nil
	}); err != nil || count != n {
		t.Fatalf("listing after the panic: %d of %d entries, %v", count, n, err)
	}
}
