package measure

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMedianAndSpan(t *testing.T) {
	if got := Median([]int{5, 1, 4, 2, 3}); got != 3 {
		t.Errorf("Median of 1..5 = %d", got)
	}
	if got := Median([]float64{2, 1}); got != 2 {
		t.Errorf("Median of 1, 2 = %v, want the upper", got)
	}
	if got := Median([]time.Duration(nil)); got != 0 {
		t.Errorf("Median of none = %v", got)
	}
	ds := []time.Duration{15 * time.Millisecond, 12300 * time.Microsecond}
	if got := Span(ds); got != "12.3-15.0 ms" {
		t.Errorf("Span = %q", got)
	}
	if !slices.Equal(ds, []time.Duration{15 * time.Millisecond, 12300 * time.Microsecond}) {
		t.Errorf("Median or Span sorted the caller's slice: %v", ds)
	}
}

func TestEachURI(t *testing.T) {
	var seen = make(chan string, 3)
	err := EachURI([]string{"a", "b", "c"}, func(uri string) error {
		seen <- uri
		if uri == "b" {
			return errors.New("b failed")
		}
		return nil
	})
	close(seen)
	var got []string
	for u := range seen {
		got = append(got, u)
	}
	slices.Sort(got)
	if err == nil || err.Error() != "b failed" || !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("EachURI: %v, ran %v", err, got)
	}
}

// The /proc readers, on this process and a child it starts.
func TestProcess(t *testing.T) {
	pid := os.Getpid()
	before, err := Sockets(pid)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	after, err := Sockets(pid)
	if err != nil || len(after) != len(before)+1 || !strings.HasPrefix(after[0], "socket:[") {
		t.Errorf("sockets before %v, after listening %v (%v)", before, after, err)
	}

	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	kids, err := Children(pid)
	if err != nil || !slices.Contains(kids, cmd.Process.Pid) {
		t.Errorf("children %v (%v), want %d among them", kids, err, cmd.Process.Pid)
	}

	for start := time.Now(); CPUTime(pid) == 0; {
		if time.Since(start) > time.Minute {
			t.Fatal("no CPU time after a minute of spinning")
		}
	}
	if rss, peak := Memory(pid); rss <= 0 || peak < rss {
		t.Errorf("memory: RSS %d, peak %d", rss, peak)
	}
}
