package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/script"
	"github.com/vicish/vicish/scripts/internal/measure"
)

// rolloutWave is the wave size of the measured rollout (no canary).
const rolloutWave = 5

// aloneScript plans, applies and proves one gateway's change, as one
// member of a rollout's wave does; argv is CONF PREV URI.
const aloneScript = `
conf, prev, uri = sys.argv[1:]
p = swanctl.plan(conf, prev, target = vici.connect(uri))
for name, r in p.apply(prove = 30).items():
    if not r["ok"]:
        fail("%s: %s: %s" % (name, r["reason"], r["error"]))
`

// rolloutBench measures scripts/rollout.star over every spoke in waves of
// rolloutWave against the sum, over its waves, of the slowest spoke's own
// plan-apply-prove time measured alone in the same round. The spokes are
// reached through uris (the delay proxies); each change sets the child's
// rekey_time, alternating between two values, so that every run has
// something to apply and prove.
func rolloutBench(ctx context.Context, l *lab.Lab, uris []string, rounds int) error {
	dir, err := os.MkdirTemp("", "fleetbench-rollout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// versions: the lab's configuration, then two rekey_times.
	versions := []string{filepath.Join(dir, "base"), filepath.Join(dir, "2h"), filepath.Join(dir, "3h")}
	inventory := ""
	var names []string
	for i := range uris {
		name := lab.SpokeName(i + 1)
		names = append(names, name)
		inventory += name + " " + uris[i] + "\n"
		data, err := os.ReadFile(filepath.Join(l.Gateway(name).ConfDir, "swanctl.conf"))
		if err != nil {
			return err
		}
		for v, text := range []string{string(data),
			strings.Replace(string(data), "        remote_ts = ", "        rekey_time = 2h\n        remote_ts = ", 1),
			strings.Replace(string(data), "        remote_ts = ", "        rekey_time = 3h\n        remote_ts = ", 1)} {
			if err := os.MkdirAll(filepath.Join(versions[v], name), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(versions[v], name, "swanctl.conf"), []byte(text), 0o600); err != nil {
				return err
			}
		}
	}
	invPath, alonePath := filepath.Join(dir, "inventory"), filepath.Join(dir, "alone.star")
	if err := os.WriteFile(invPath, []byte(inventory), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(alonePath, []byte(aloneScript), 0o600); err != nil {
		return err
	}
	cur := 0
	next := func() int {
		if cur == 1 {
			return 2
		}
		return 1
	}
	var rollouts, sums []time.Duration
	var ratios []float64
	var slowestAlone time.Duration
	for r := 0; r <= rounds; r++ { // round 0 warms up
		to := next()
		alone := make([]time.Duration, len(uris))
		for k := range uris {
			i := (r + k) % len(uris) // rotate who goes first
			d, err := runStar(ctx, alonePath, filepath.Join(versions[to], names[i]), filepath.Join(versions[cur], names[i]), uris[i])
			if err != nil {
				return fmt.Errorf("%s alone: %w", names[i], err)
			}
			alone[i] = d
		}
		cur, to = to, next()
		d, err := runStar(ctx, "scripts/rollout.star", "--inventory", invPath, "--conf", versions[to], "--previous", versions[cur],
			"--canary", "0", "--wave", fmt.Sprint(rolloutWave), "--health", "30")
		if err != nil {
			return fmt.Errorf("rollout: %w", err)
		}
		cur = to
		var sum time.Duration
		for w := 0; w < len(alone); w += rolloutWave {
			sum += slices.Max(alone[w:min(w+rolloutWave, len(alone))])
		}
		if r == 0 {
			continue
		}
		rollouts, sums = append(rollouts, d), append(sums, sum)
		ratios = append(ratios, measure.Ms(d)/measure.Ms(sum))
		slowestAlone = max(slowestAlone, slices.Max(alone))
	}
	slices.Sort(ratios)
	fmt.Printf("\nrollout.star over %d gateways, waves of %d (no canary), %d rounds (medians):\n", len(uris), rolloutWave, rounds)
	fmt.Printf("  rollout.star                                 %8.1f ms  (range %s)\n", measure.Ms(measure.Median(rollouts)), measure.Span(rollouts))
	fmt.Printf("  sum over waves of the slowest gateway alone  %8.1f ms  (range %s; slowest alone %.1f ms)\n",
		measure.Ms(measure.Median(sums)), measure.Span(sums), measure.Ms(slowestAlone))
	fmt.Printf("  rollout / sum: %.2f median, %.2f-%.2f (goal <= 1.5)\n", ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1])
	return nil
}

// runStar runs a script file in this process with args and returns its
// wall time (the runtime's set-up not counted); anything but exit code 0
// is an error.
func runStar(ctx context.Context, name string, args ...string) (time.Duration, error) {
	var stdout, stderr strings.Builder
	rt := script.New(script.Options{
		Argv:   append([]string{name}, args...),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(string) string { return "" },
	})
	defer rt.Close()
	start := time.Now()
	_, err := rt.ExecFile(ctx, name, nil)
	d := time.Since(start)
	if code := script.ExitCode(ctx, err); code != script.ExitOK {
		return d, fmt.Errorf("%s: exit %d: %v\n%s%s", name, code, err, tail(stdout.String(), 20), stderr.String())
	}
	return d, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n") + "\n"
}
