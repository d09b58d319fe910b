package vici_test

import (
	"sync"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/vici"
)

// TestCharonResubscribe closes and reopens subscriptions of one event in
// quick succession, and a stream of the same event in between: the last
// subscription must still be registered with the daemon (an unregistration
// still on its way must not undo the new registration).
func TestCharonResubscribe(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	ctx := charonCtx(t, time.Minute)
	c := dialGateway(t, l.Gateway("a"), vici.Options{})
	for i := 0; i < 20; i++ {
		sub, err := c.Subscribe(ctx, "ike-updown", "list-sa")
		if err != nil {
			t.Fatal(err)
		}
		sub.Close()
		if i%5 == 0 {
			collect(t, ctx, c, "list-sas", "list-sa", nil)
		}
	}
	// The same from several goroutines at once, with streams in between.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				s, err := c.Subscribe(ctx, "ike-updown")
				if err != nil {
					errs <- err
					return
				}
				s.Close()
			}
		}()
	}
	for i := 0; i < 5; i++ {
		collect(t, ctx, c, "list-sas", "list-sa", nil)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sub, err := c.Subscribe(ctx, "ike-updown")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	mustSucceed(t, ctx, c, "initiate", msg("child", "net", "ike", "ab", "timeout", "30000"))
	ev := nextEvent(t, ctx, sub)
	if ev.Name != "ike-updown" || ev.Message.Get("up") != "yes" {
		t.Fatalf("first event: %+v", ev)
	}
	// Registered once: the down event comes once too, and nothing else.
	mustSucceed(t, ctx, c, "terminate", msg("ike", "ab", "timeout", "30000"))
	if ev := nextEvent(t, ctx, sub); ev.Name != "ike-updown" || ev.Message.Has("up") {
		t.Fatalf("second event: %+v", ev)
	}
	mustSucceed(t, ctx, c, "initiate", msg("child", "net", "ike", "ab", "timeout", "30000"))
	if ev := nextEvent(t, ctx, sub); ev.Name != "ike-updown" || ev.Message.Get("up") != "yes" {
		t.Fatalf("third event (a duplicate?): %+v", ev)
	}
	// And the list-sa subscription closed above no longer receives: a
	// stream of list-sas gets its entry once.
	if got := collect(t, ctx, c, "list-sas", "list-sa", nil); len(got) != 1 {
		t.Fatalf("list-sas: %d entries, want 1", len(got))
	}
}
