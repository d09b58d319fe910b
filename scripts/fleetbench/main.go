// Command fleetbench measures the fleet runbooks against a star lab of real
// charon daemons, side by side in one run:
//
//   - scripts/fleet-status.star over all spokes at once (vici.group), the
//     same with --sequential, and over each spoke alone, in rounds that
//     rotate which goes first; it prints the medians and the ratios of the
//     concurrent run to the slowest single spoke (goal: ≤ 1.5) and of the
//     sequential run to the concurrent one;
//   - scripts/rollout.star over all spokes in waves of 5, through the
//     delay proxies, against the sum over its waves of the slowest
//     spoke's own plan-apply-prove time measured alone (goal: ≤ 1.5);
//   - a merged listener (vici.group(...).on("ike-updown", ...) and one
//     vici.listen()) while every spoke brings its tunnel up and down
//     -cycles times at once: it must receive every event, 2 × cycles per
//     spoke.
//
// Run it as root (the lab needs network namespaces) from the repository:
//
//	go run ./scripts/fleetbench [-spokes 20] [-rounds 7] [-cycles 25] [-rollout-rounds 5]
//
// The scripts run in this process through package script, as vicish runs
// them, so process start-up does not blur the figures.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/script"
	"github.com/vicish/vicish/scripts/internal/measure"
	"github.com/vicish/vicish/vici"
)

// fleetStatus is the runbook the status rounds time.
const fleetStatus = "scripts/fleet-status.star"

func main() {
	spokes := flag.Int("spokes", 20, "spokes of the star lab (gateways to ask)")
	rounds := flag.Int("rounds", 7, "rounds of each fleet-status variant")
	cycles := flag.Int("cycles", 25, "up/down cycles per spoke for the merged listener (2 events each)")
	delay := flag.Duration("delay", 10*time.Millisecond, "one-way delay of the WAN-like run (0: skip it)")
	rollouts := flag.Int("rollout-rounds", 5, "rounds of the rollout.star measurement in the WAN-like run (0: skip it)")
	flag.Parse()
	if err := run(*spokes, *rounds, *cycles, *delay, *rollouts); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
}

func run(spokes, rounds, cycles int, delay time.Duration, rolloutRounds int) (err error) {
	if err := measure.Ready(fleetStatus); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	// Every spoke's tunnel up, so fleet-status has SAs to show and exits 0.
	l, uris, err := measure.Star(ctx, spokes)
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(); err == nil {
			err = derr
		}
	}()

	fmt.Printf("\nlocal sockets: %d daemons and vicish share this machine's cores (CPU-bound)\n", spokes)
	if err := statusRounds(ctx, uris, rounds); err != nil {
		return err
	}
	if delay > 0 {
		// Each gateway behind a proxy that delays every chunk by delay in
		// each direction: a round trip of 2*delay, as to a remote gateway.
		dir, err := os.MkdirTemp("", "fleetbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		var far []string
		for i, uri := range uris {
			_, path, err := vici.ParseURI(uri)
			if err != nil {
				return err
			}
			p, err := startDelayProxy(filepath.Join(dir, lab.SpokeName(i+1)+".vici"), path, delay)
			if err != nil {
				return err
			}
			defer p.Close()
			far = append(far, "unix://"+p.path)
		}
		fmt.Printf("\nWAN-like: each gateway behind a proxy adding %v each way (round trip %v)\n", delay, 2*delay)
		if err := statusRounds(ctx, far, rounds); err != nil {
			return err
		}
		if rolloutRounds > 0 {
			if err := rolloutBench(ctx, l, far, rolloutRounds); err != nil {
				return err
			}
		}
	}
	if err := measure.EachClient(ctx, uris, func(c *vici.Client) error { return updown(ctx, c, false) }); err != nil {
		return err
	}
	if err := mergedListener(ctx, uris, cycles); err != nil {
		return err
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average: %s", b)
	}
	return nil
}

// updown brings a spoke's connection "hub" up (initiate child "net") or
// down (terminate), waiting for the daemon to finish.
func updown(ctx context.Context, c *vici.Client, up bool) error {
	req := vici.NewMessage().Set("ike", "hub").Set("timeout", "20000")
	command := "terminate"
	if up {
		command = "initiate"
		req.Set("child", "net")
	}
	_, err := c.Call(ctx, command, req)
	return err
}

// statusRounds times fleet-status concurrent, sequential and per spoke.
func statusRounds(ctx context.Context, uris []string, rounds int) error {
	variants := []string{"concurrent", "sequential", "single"}
	times := map[string][]time.Duration{}
	single := make([][]time.Duration, len(uris))
	measureVariant := func(v string, record bool) error {
		switch v {
		case "concurrent", "sequential":
			args := slices.Clone(uris)
			if v == "sequential" {
				args = append([]string{"--sequential"}, args...)
			}
			d, err := runStar(ctx, fleetStatus, args...)
			if err != nil {
				return err
			}
			if record {
				times[v] = append(times[v], d)
			}
		case "single":
			for i, uri := range uris {
				d, err := runStar(ctx, fleetStatus, uri)
				if err != nil {
					return err
				}
				if record {
					single[i] = append(single[i], d)
				}
			}
		}
		return nil
	}
	for _, v := range variants { // warm-up, not counted
		if err := measureVariant(v, false); err != nil {
			return err
		}
	}
	for r := 0; r < rounds; r++ {
		for k := range variants {
			if err := measureVariant(variants[(r+k)%len(variants)], true); err != nil {
				return err
			}
		}
	}
	slowest, slowIdx, fastest := time.Duration(0), 0, time.Duration(1<<62)
	for i := range uris {
		m := measure.Median(single[i])
		if m > slowest {
			slowest, slowIdx = m, i
		}
		fastest = min(fastest, m)
	}
	conc, seq := measure.Median(times["concurrent"]), measure.Median(times["sequential"])
	fmt.Printf("fleet-status over %d gateways, %d rounds (medians):\n", len(uris), rounds)
	fmt.Printf("  concurrent (vici.group)   %8.1f ms  (range %s)\n", measure.Ms(conc), measure.Span(times["concurrent"]))
	fmt.Printf("  sequential (--sequential) %8.1f ms  (range %s)\n", measure.Ms(seq), measure.Span(times["sequential"]))
	fmt.Printf("  one gateway alone         %8.1f ms slowest (s%d), %.1f ms fastest\n", measure.Ms(slowest), slowIdx+1, measure.Ms(fastest))
	fmt.Printf("  concurrent / slowest single gateway: %.2f (goal <= 1.5)\n", measure.Ms(conc)/measure.Ms(slowest))
	fmt.Printf("  sequential / concurrent:             %.2f\n", measure.Ms(seq)/measure.Ms(conc))
	return engineFloor(ctx, uris, rounds)
}

// engineFloor times the same four commands through the engine alone (Go,
// no Starlark, no rendering): every gateway at once, and each alone.
func engineFloor(ctx context.Context, uris []string, rounds int) error {
	ask := func(uri string) error {
		c, err := vici.Dial(ctx, uri)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, cmd := range []string{"version", "stats"} {
			if _, err := c.Call(ctx, cmd, nil); err != nil {
				return err
			}
		}
		for _, cmd := range [][2]string{{"list-conns", "list-conn"}, {"list-sas", "list-sa"}} {
			for _, err := range c.Stream(ctx, cmd[0], cmd[1], nil) {
				if err != nil {
					return err
				}
			}
		}
		return nil
	}
	var all []time.Duration
	single := make([][]time.Duration, len(uris))
	for r := 0; r <= rounds; r++ {
		start := time.Now()
		if err := measure.EachURI(uris, ask); err != nil {
			return err
		}
		if r > 0 {
			all = append(all, time.Since(start))
		}
		for i, uri := range uris {
			start := time.Now()
			if err := ask(uri); err != nil {
				return err
			}
			if r > 0 {
				single[i] = append(single[i], time.Since(start))
			}
		}
	}
	slowest := time.Duration(0)
	for i := range uris {
		slowest = max(slowest, measure.Median(single[i]))
	}
	fmt.Printf("  engine alone (Go, same commands): all at once %.1f ms, slowest single %.1f ms, ratio %.2f\n",
		measure.Ms(measure.Median(all)), measure.Ms(slowest), measure.Ms(measure.Median(all))/measure.Ms(slowest))
	return nil
}

// mergedListener runs a script that listens to ike-updown on every spoke
// through one vici.listen while all spokes cycle their tunnel at once, and
// checks that it received every event.
func mergedListener(ctx context.Context, uris []string, cycles int) error {
	members := map[string]string{}
	for i, uri := range uris {
		members[lab.SpokeName(i+1)] = uri
	}
	m, err := json.Marshal(members)
	if err != nil {
		return err
	}
	total := 2 * cycles * len(uris)
	src := fmt.Sprintf(`
counts = {}
def count(name, data, session):
    counts[session.name] = counts.get(session.name, 0) + 1
g = vici.group(json.decode(%q), deadline = 30)
for gw, r in g.on("ike-updown", count).items():
    if r != None:
        fail("gateway %%s: %%s" %% (gw, r))
print("ready")
handled = vici.listen(count = %d, timeout = 600)
print(json.encode({"handled": handled, "counts": counts}))
`, string(m), total)
	pr, pw := io.Pipe()
	var stderr strings.Builder
	rt := script.New(script.Options{Argv: []string{"merged"}, Stdout: pw, Stderr: &stderr, Getenv: func(string) string { return "" }})
	defer rt.Close()
	done := make(chan error, 1)
	go func() {
		_, err := rt.ExecFile(ctx, "merged.star", src)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	lines := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if l, ok := <-lines; !ok || l != "ready" {
		return fmt.Errorf("merged listener did not start: %q %v %s", l, <-done, stderr.String())
	}
	start := time.Now()
	if err := measure.EachClient(ctx, uris, func(c *vici.Client) error {
		for i := 0; i < cycles; i++ {
			if err := updown(ctx, c, true); err != nil {
				return err
			}
			if err := updown(ctx, c, false); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	drive := time.Since(start)
	result, ok := <-lines
	if err := <-done; err != nil || !ok {
		return fmt.Errorf("merged listener: %v %s", err, stderr.String())
	}
	received := time.Since(start)
	var got struct {
		Handled int            `json:"handled"`
		Counts  map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(result), &got); err != nil {
		return fmt.Errorf("merged listener printed %q: %v", result, err)
	}
	complete := 0
	for name := range members {
		if got.Counts[name] == 2*cycles {
			complete++
		}
	}
	fmt.Printf("merged listener: %d of %d ike-updown events (%d gateways x %d), every gateway's %d: %d of %d gateways; driving took %v, the last event arrived after %v\n",
		got.Handled, total, len(uris), 2*cycles, 2*cycles, complete, len(uris), drive.Round(time.Millisecond), received.Round(time.Millisecond))
	if got.Handled != total || complete != len(uris) {
		return fmt.Errorf("merged listener lost events: %v", got.Counts)
	}
	return nil
}

// delayProxy forwards connections on a unix socket to another one, each
// chunk delivered delay after it was read, in order: a link with that
// one-way latency and no bandwidth limit.
type delayProxy struct {
	path  string
	ln    net.Listener
	delay time.Duration
}

func startDelayProxy(path, target string, delay time.Duration) (*delayProxy, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	p := &delayProxy{path: path, ln: ln, delay: delay}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			go p.pipe(up, c)
			go p.pipe(c, up)
		}
	}()
	return p, nil
}

// Close stops accepting; open connections end with their peers.
func (p *delayProxy) Close() error { return p.ln.Close() }

// pipe copies src to dst with the delay, then closes dst's writing side.
func (p *delayProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, 4096)
	go func() {
		defer func() {
			if uc, ok := dst.(*net.UnixConn); ok {
				uc.CloseWrite()
			}
		}()
		for c := range ch {
			time.Sleep(time.Until(c.at))
			if _, err := dst.Write(c.b); err != nil {
				dst.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			ch <- chunk{append([]byte(nil), buf[:n]...), time.Now().Add(p.delay)}
		}
		if err != nil {
			close(ch)
			return
		}
	}
}
