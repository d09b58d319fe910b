// Command exporterbench measures scripts/exporter.star, run as vicish runs
// it (a process of its own), against a star lab of real charon daemons
// whose spokes all have their tunnel up:
//
//   - over the spokes' unix sockets, then over ssh:// through one sshd (in
//     the hub's network namespace, standing in for each gateway's own);
//   - the cold start: from starting the exporter until one scrape has every
//     gateway up, with the CPU time the exporter (and, over ssh, the ssh
//     clients) spent on it;
//   - warm scrapes one after another: wall time (median, slowest), the
//     exporter's CPU time per scrape, whether any socket or ssh process was
//     opened meanwhile (it must not: the sessions stay open), and the
//     exporter's resident memory (now and peak).
//
// Run it as root (the lab needs network namespaces) from the repository:
//
//	go run ./scripts/exporterbench [-spokes 100] [-scrapes 20]
//
// docs/performance.md gives the figures of one run.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/vici"
)

func main() {
	spokes := flag.Int("spokes", 100, "spokes of the star lab (gateways to scrape)")
	scrapes := flag.Int("scrapes", 20, "warm scrapes to time")
	flag.Parse()
	if err := run(*spokes, *scrapes); err != nil {
		fmt.Fprintln(os.Stderr, "exporterbench:", err)
		os.Exit(1)
	}
}

func run(spokes, scrapes int) (err error) {
	if err := lab.Check(); err != nil {
		return err
	}
	if _, err := os.Stat("scripts/exporter.star"); err != nil {
		return fmt.Errorf("run it from the repository's top directory: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "exporterbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "vicish")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/vicish").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}

	start := time.Now()
	l, err := lab.Up(ctx, lab.Config{Topology: lab.Star, Spokes: spokes})
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(); err == nil {
			err = derr
		}
	}()
	names := make([]string, spokes)
	uris := make([]string, spokes)
	for i := range names {
		g := l.Gateway(lab.SpokeName(i + 1))
		names[i], uris[i] = g.Name, g.URI
	}
	fmt.Printf("lab %s: star of %d spokes up in %v (strongSwan %s)\n", l.ID, spokes,
		time.Since(start).Round(time.Millisecond), l.Gateway(names[0]).Version())
	start = time.Now()
	if err := eachSpoke(ctx, uris, func(c *vici.Client) error {
		_, err := c.Call(ctx, "initiate", vici.NewMessage().Set("ike", "hub").Set("child", "net").Set("timeout", "20000"))
		return err
	}); err != nil {
		return err
	}
	fmt.Printf("%d tunnels up in %v\n", spokes, time.Since(start).Round(time.Millisecond))

	sshd, err := l.Gateway("hub").StartSSHD(ctx)
	if err != nil {
		return err
	}
	sshConf := filepath.Join(tmp, "ssh_config")
	conf := "Host *\n  IdentitiesOnly yes\n  IdentityAgent none\n  GlobalKnownHostsFile /dev/null\n" +
		"  UserKnownHostsFile " + sshd.KnownHostsFile + "\n  IdentityFile " + sshd.IdentityFile + "\n"
	if err := os.WriteFile(sshConf, []byte(conf), 0o600); err != nil {
		return err
	}

	fmt.Printf("\n| %d gateways | cold start: all up | its CPU (exporter + ssh) | warm scrape median / slowest | CPU per warm scrape | new sockets, processes over %d scrapes | RSS now / peak |\n| --- | --- | --- | --- | --- | --- | --- |\n",
		spokes, scrapes)
	for _, mode := range []string{"unix", "ssh"} {
		var inv strings.Builder
		for i, name := range names {
			uri := uris[i]
			if mode == "ssh" {
				_, path, err := vici.ParseURI(uri)
				if err != nil {
					return err
				}
				uri = sshd.URI(path)
			}
			fmt.Fprintf(&inv, "%s %s\n", name, uri)
		}
		invPath := filepath.Join(tmp, "fleet-"+mode)
		if err := os.WriteFile(invPath, []byte(inv.String()), 0o600); err != nil {
			return err
		}
		r, err := measure(ctx, bin, invPath, "ssh -F "+sshConf, spokes, scrapes)
		if err != nil {
			return fmt.Errorf("%s: %w", mode, err)
		}
		fmt.Printf("| %s | %v in %d scrapes | %v + %v | %v / %v | %v | %d, %d | %.1f / %.1f MiB |\n", mode,
			r.cold.Round(time.Millisecond), r.coldScrapes, r.coldCPU.Round(time.Millisecond), r.coldSSHCPU.Round(time.Millisecond),
			r.median.Round(time.Millisecond), r.slowest.Round(time.Millisecond), r.cpuPerScrape.Round(time.Millisecond),
			r.newSockets, r.newProcs, float64(r.rss)/(1<<20), float64(r.peak)/(1<<20))
	}
	return nil
}

// result is what measure found for one exporter.
type result struct {
	cold                 time.Duration // start until a scrape had every gateway up
	coldScrapes          int
	coldCPU, coldSSHCPU  time.Duration // the exporter's and its ssh clients' CPU time by then
	median, slowest      time.Duration // of the warm scrapes
	cpuPerScrape         time.Duration
	newSockets, newProcs int   // opened during the warm scrapes
	rss, peak            int64 // bytes
}

// measure starts the exporter over the inventory at inv, waits for the
// scrape that has all n gateways up, then times scrapes warm scrapes.
func measure(ctx context.Context, bin, inv, sshCommand string, n, scrapes int) (r result, err error) {
	began := time.Now()
	cmd := exec.CommandContext(ctx, bin, "--allow-listen", "--allow-net", "scripts/exporter.star",
		"--listen", "127.0.0.1:0", "--inventory", inv, "--timeout", "30")
	cmd.Env = append(os.Environ(), "VICI_SSH_COMMAND="+sshCommand)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	pid := cmd.Process.Pid
	addr := make(chan string, 1)
	logPath := inv + ".log"
	logFile, err := os.Create(logPath)
	if err != nil {
		return r, err
	}
	defer logFile.Close()
	go func() {
		re := regexp.MustCompile(`serving /metrics addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	defer func() {
		if b, _ := os.ReadFile(logPath); len(b) > 0 && os.Getenv("EXPORTERBENCH_LOG") != "" {
			fmt.Fprintf(os.Stderr, "--- the exporter's log (%s)\n%s", inv, b)
		}
	}()
	var url string
	select {
	case a := <-addr:
		url = "http://" + a + "/metrics"
	case <-ctx.Done():
		return r, errors.New("the exporter did not start serving")
	}
	client := &nethttp.Client{}
	upLine := regexp.MustCompile(`(?m)^strongswan_up\{[^}]*\} 1$`)
	for {
		body, err := scrape(client, url)
		if err != nil {
			return r, err
		}
		r.coldScrapes++
		if len(upLine.FindAllString(body, -1)) == n {
			break
		}
		if ctx.Err() != nil {
			return r, errors.New("the gateways never were all up")
		}
	}
	r.cold = time.Since(began)
	r.coldCPU = cpuTime(pid)
	kids := children(pid)
	for _, k := range kids {
		r.coldSSHCPU += cpuTime(k)
	}

	socks, cpu0 := sockets(pid), cpuTime(pid)
	times := make([]time.Duration, scrapes)
	for i := range times {
		t0 := time.Now()
		body, err := scrape(client, url)
		if err != nil {
			return r, err
		}
		times[i] = time.Since(t0)
		if got := len(upLine.FindAllString(body, -1)); got != n {
			return r, fmt.Errorf("warm scrape %d: %d of %d gateways up", i+1, got, n)
		}
	}
	r.cpuPerScrape = (cpuTime(pid) - cpu0) / time.Duration(scrapes)
	slices.Sort(times)
	r.median, r.slowest = times[len(times)/2], times[len(times)-1]
	r.newSockets = len(added(socks, sockets(pid)))
	r.newProcs = len(added(kids, children(pid)))
	r.rss, r.peak = memory(pid)
	return r, nil
}

// scrape fetches url and returns the body.
func scrape(client *nethttp.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// added is what now has that before had not.
func added[T comparable](before, now []T) []T {
	var out []T
	for _, x := range now {
		if !slices.Contains(before, x) {
			out = append(out, x)
		}
	}
	return out
}

// cpuTime is the user and system CPU time process pid has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// memory is process pid's resident set size and its peak, in bytes.
func memory(pid int) (rss, peak int64) {
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

// sockets lists the socket inodes process pid has open.
func sockets(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if link, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && strings.HasPrefix(link, "socket:") {
			out = append(out, link)
		}
	}
	return out
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(e.Name())
			out = append(out, n)
		}
	}
	return out
}

// eachSpoke runs fn on a connection of its own to every spoke at once.
func eachSpoke(ctx context.Context, uris []string, fn func(*vici.Client) error) error {
	errs := make([]error, len(uris))
	var wg sync.WaitGroup
	for i, uri := range uris {
		wg.Go(func() {
			c, err := vici.Dial(ctx, uri)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			if err := fn(c); err != nil {
				errs[i] = fmt.Errorf("%s: %w", uri, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
