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

// The end-to-end goal of issue 12, for the path users take: listing every
// connection from a script costs at most twice the CPU of a process that
// only counts the frames, and stays under this peak RSS.
const (
	e2eCPUGoal = 2.0
	e2eRSSGoal = 60 << 20
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
	fmt.Printf("per-round ratios to the raw frame counter (median; min-max):\n")
	for i, p := range procs[1:] {
		cpuR, wallR := make([]float64, rounds), make([]float64, rounds)
		peak := int64(0)
		for k := range rounds {
			raw, vs := runs[0][k], runs[i+1][k]
			cpuR[k] = float64(vs.cpu) / float64(max(raw.cpu, 1))
			wallR[k] = float64(vs.wall) / float64(max(raw.wall, 1))
			peak = max(peak, vs.maxRSS)
		}
		if i == 0 { // procs[1] is the native floor
			fmt.Printf("  %s (no client returning native dicts and lists can spend less)\n", p.name)
		} else {
			fmt.Printf("  %s\n", p.name)
		}
		fmt.Printf("    CPU  %.2f× (%.2f-%.2f)  goal ≤ %.1f×: %s\n", medianF(cpuR), slices.Min(cpuR), slices.Max(cpuR),
			e2eCPUGoal, verdict(medianF(cpuR) <= e2eCPUGoal))
		fmt.Printf("    wall %.2f× (%.2f-%.2f)\n", medianF(wallR), slices.Min(wallR), slices.Max(wallR))
		fmt.Printf("    peak RSS %.1f MiB (highest of %d rounds)  goal ≤ %d MiB: %s\n", mib(peak), rounds,
			e2eRSSGoal>>20, verdict(peak <= e2eRSSGoal))
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
