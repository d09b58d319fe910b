// Package measure holds what the benchmark programs under scripts/
// (exporterbench, fleetbench) and the runbooks' tests measure with: the
// star lab they run against, work run on every gateway of it at once, a
// process's sockets, children, CPU time and memory as Linux's /proc shows
// them, and medians and ranges of timings.
package measure

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/vici"
)

// EachURI runs fn for every URI at once and returns their errors joined.
func EachURI(uris []string, fn func(uri string) error) error {
	errs := make([]error, len(uris))
	var wg sync.WaitGroup
	for i, uri := range uris {
		wg.Go(func() { errs[i] = fn(uri) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// EachClient runs fn with a connection of its own to every URI at once;
// an error names its URI.
func EachClient(ctx context.Context, uris []string, fn func(*vici.Client) error) error {
	return EachURI(uris, func(uri string) error {
		c, err := vici.Dial(ctx, uri)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := fn(c); err != nil {
			return fmt.Errorf("%s: %w", uri, err)
		}
		return nil
	})
}

// Median is the middle of xs once sorted (the upper one of an even
// number), or the zero value for none.
func Median[T cmp.Ordered](xs []T) T {
	if len(xs) == 0 {
		var zero T
		return zero
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Span writes the range of ds: "12.3-15.0 ms".
func Span(ds []time.Duration) string {
	return fmt.Sprintf("%.1f-%.1f ms", Ms(slices.Min(ds)), Ms(slices.Max(ds)))
}

// Sockets lists the sockets process pid has open ("socket:[INODE]"),
// sorted.
func Sockets(pid int) ([]string, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if link, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(link, "socket:") {
			out = append(out, link)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Children lists the processes whose parent is pid, sorted.
func Children(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		f, ok := statFields(filepath.Join("/proc", e.Name(), "stat"))
		if ok && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(e.Name())
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// CPUTime is the user and system CPU time process pid has used; 0 if it
// cannot be read.
func CPUTime(pid int) time.Duration {
	f, ok := statFields(fmt.Sprintf("/proc/%d/stat", pid))
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// statFields reads a /proc/PID/stat file and returns its fields after the
// command name, from the state on: "pid (comm) state ppid ...", where
// comm may hold spaces and parentheses.
func statFields(path string) ([]string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:]), true
}

// Memory is process pid's resident set size and its peak, in bytes.
func Memory(pid int) (rss, peak int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

// Ready checks that a bench program can run here: the lab can start
// (root, network namespaces), and it runs from the repository's top
// directory, where runbook (the script it measures) is.
func Ready(runbook string) error {
	if err := lab.Check(); err != nil {
		return err
	}
	if _, err := os.Stat(runbook); err != nil {
		return fmt.Errorf("run it from the repository's top directory: %w", err)
	}
	return nil
}

// Star starts the lab the bench programs measure against, a star of n
// spokes, and brings every spoke's tunnel up (child "net" of its
// connection "hub"), printing how long each took. It returns the lab,
// which the caller takes down, and the spokes' URIs in the order of
// lab.SpokeName.
func Star(ctx context.Context, n int) (*lab.Lab, []string, error) {
	start := time.Now()
	l, err := lab.Up(ctx, lab.Config{Topology: lab.Star, Spokes: n})
	if err != nil {
		return nil, nil, err
	}
	uris := make([]string, n)
	for i := range uris {
		uris[i] = l.Gateway(lab.SpokeName(i + 1)).URI
	}
	fmt.Printf("lab %s: star of %d spokes up in %v (strongSwan %s)\n", l.ID, n,
		time.Since(start).Round(time.Millisecond), l.Gateway(lab.SpokeName(1)).Version())
	start = time.Now()
	err = EachClient(ctx, uris, func(c *vici.Client) error {
		_, err := c.Call(ctx, "initiate", vici.NewMessage().Set("ike", "hub").Set("child", "net").Set("timeout", "20000"))
		return err
	})
	if err != nil {
		return nil, nil, errors.Join(err, l.Down())
	}
	fmt.Printf("%d tunnels up in %v\n", n, time.Since(start).Round(time.Millisecond))
	return l, uris, nil
}
