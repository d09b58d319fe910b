package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The end-to-end goal for the path users take, against the native floor
// (floor.go), the cheapest way known to build the native Starlark values:
// listing every connection from a script costs at most 10% more CPU than
// the floor and at most 4 MiB more peak RSS, in about the wall time of a
// process that only counts the frames.
const (
	floorCPUGoal = 1.10
	floorRSSGoal = 4 << 20
	wallGoal     = 1.10
)

// e2eScript is what a user runs.
const e2eScript = "print(len(vici.list_conns()))"

// rawChildFlag makes the bench binary a child that runs one raw listing
// against the socket given and prints the number of entries.
const rawChildFlag = "raw-child"

// childRun is one child process's use of the machine.
type childRun struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes
}

// runRawChild is the child side of rawChildFlag.
func runRawChild(socket string) error {
	raw, err := dialRaw(socket)
	if err != nil {
		return err
	}
	defer raw.Close()
	n, err := raw.listConns()
	if err != nil {
		return err
	}
	fmt.Println(n)
	return nil
}

// runChild runs cmd to its end and checks that it printed want entries.
func runChild(cmd *exec.Cmd, want int) (childRun, error) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		return childRun{}, fmt.Errorf("%s: %v: %s", cmd.Path, err, strings.TrimSpace(errOut.String()))
	}
	if got := strings.TrimSpace(out.String()); got != strconv.Itoa(want) {
		return childRun{}, fmt.Errorf("%s printed %q, want %d", filepath.Base(cmd.Path), got, want)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return childRun{}, fmt.Errorf("no resource usage for %s", cmd.Path)
	}
	return childRun{
		wall:   wall,
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		maxRSS: ru.Maxrss << 10, // KiB on Linux
	}, nil
}

// buildVicish builds cmd/vicish into dir, as a user would install it.
func buildVicish(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "vicish")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/vicish")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building vicish (run the bench from the repository): %v\n%s", err, out)
	}
	return bin, nil
}

// endToEnd runs, in rotating rounds, each vicish binary listing every
// connection and a child process that only counts the frames, and prints
// each process's CPU (user + system), wall time and peak RSS, with the
// per-round ratios against the goal. Several binaries (a build before and
// after a change, say) are measured side by side.
func endToEnd(ctx context.Context, vicish []string, uri, socket string, conns, rounds int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	type proc struct {
		name string
		cmd  func() *exec.Cmd
	}
	procs := []proc{{"raw frame counter", func() *exec.Cmd {
		return exec.CommandContext(ctx, self, "-"+rawChildFlag, socket)
	}}, {"native floor", func() *exec.Cmd {
		return exec.CommandContext(ctx, self, "-"+floorChildFlag, socket)
	}}}
	for _, bin := range vicish {
		name := "vicish -c"
		if len(vicish) > 1 {
			name = bin + " -c"
		}
		procs = append(procs, proc{name, func() *exec.Cmd {
			cmd := exec.CommandContext(ctx, bin, "--uri", uri, "-c", e2eScript)
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			return cmd
		}})
	}
	fmt.Printf("\nend to end: one process per listing, %q against the raw frame counter\n", "vicish -c '"+e2eScript+"'")
	for _, p := range procs { // warm-up, not counted
		if _, err := runChild(p.cmd(), conns); err != nil {
			return fmt.Errorf("warm-up %s: %w", p.name, err)
		}
	}
	runs := make([][]childRun, len(procs))
	for round := 1; round <= rounds; round++ {
		for k := range procs {
			i := (k + round) % len(procs)
			r, err := runChild(procs[i].cmd(), conns)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, procs[i].name, err)
			}
			runs[i] = append(runs[i], r)
			fmt.Printf("round %d  %-18s %6d entries  wall %7.1f ms  CPU %7.1f ms  peak RSS %6.1f MiB\n",
				round, procs[i].name, conns, ms(r.wall), ms(r.cpu), mib(r.maxRSS))
		}
	}
	fmt.Printf("median of %d rounds:\n", rounds)
	for i, p := range procs {
		wall, cpu, rss := make([]time.Duration, rounds), make([]time.Duration, rounds), make([]int64, rounds)
		for k, r := range runs[i] {
			wall[k], cpu[k], rss[k] = r.wall, r.cpu, r.maxRSS
		}
		fmt.Printf("  %-18s wall %7.1f ms  CPU %7.1f ms  peak RSS %6.1f MiB (max %6.1f MiB)\n",
			p.name, ms(median(wall)), ms(median(cpu)), mib(medianInt(rss)), mib(slices.Max(rss)))
	}
	verdict := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "OVER the goal"
	}
	// ratios returns the per-round ratios of process i's figure to process
	// j's of the same round.
	ratios := func(i, j int, fig func(childRun) time.Duration) []float64 {
		r := make([]float64, rounds)
		for k := range rounds {
			r[k] = float64(fig(runs[i][k])) / float64(max(fig(runs[j][k]), 1))
		}
		return r
	}
	cpu := func(r childRun) time.Duration { return r.cpu }
	wall := func(r childRun) time.Duration { return r.wall }
	peak := func(i int) int64 {
		m := int64(0)
		for _, r := range runs[i] {
			m = max(m, r.maxRSS)
		}
		return m
	}
	span := func(r []float64) string {
		return fmt.Sprintf("%.2f× (%.2f-%.2f)", medianF(r), slices.Min(r), slices.Max(r))
	}
	fmt.Printf("per-round ratios (median; min-max):\n")
	fmt.Printf("  native floor to the raw frame counter (the cheapest way known to build the same dicts and lists)\n")
	fmt.Printf("    CPU  %s\n    wall %s\n", span(ratios(1, 0, cpu)), span(ratios(1, 0, wall)))
	for i := 2; i < len(procs); i++ {
		cpuR, wallR := ratios(i, 1, cpu), ratios(i, 0, wall)
		extra := peak(i) - peak(1)
		fmt.Printf("  %s\n", procs[i].name)
		fmt.Printf("    CPU to the floor's   %s  goal ≤ %.2f×: %s\n", span(cpuR), floorCPUGoal, verdict(medianF(cpuR) <= floorCPUGoal))
		fmt.Printf("    peak RSS %.1f MiB, %+.1f MiB to the floor's (highest of %d rounds each)  goal ≤ +%d MiB: %s\n",
			mib(peak(i)), mib(extra), rounds, floorRSSGoal>>20, verdict(extra <= floorRSSGoal))
		fmt.Printf("    wall to the frame counter's %s  goal ≤ %.2f×: %s\n", span(wallR), wallGoal, verdict(medianF(wallR) <= wallGoal))
		fmt.Printf("    CPU to the frame counter's  %s\n", span(ratios(i, 0, cpu)))
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average: %s", load)
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func medianInt(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
