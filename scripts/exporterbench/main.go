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
	"strings"
	"syscall"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/scripts/internal/measure"
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
	if err := measure.Ready("scripts/exporter.star"); err != nil {
		return err
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

	l, uris, err := measure.Star(ctx, spokes)
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(); err == nil {
			err = derr
		}
	}()

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
		for i, uri := range uris {
			if mode == "ssh" {
				_, path, err := vici.ParseURI(uri)
				if err != nil {
					return err
				}
				uri = sshd.URI(path)
			}
			fmt.Fprintf(&inv, "%s %s\n", lab.SpokeName(i+1), uri)
		}
		invPath := filepath.Join(tmp, "fleet-"+mode)
		if err := os.WriteFile(invPath, []byte(inv.String()), 0o600); err != nil {
			return err
		}
		r, err := benchExporter(ctx, bin, invPath, "ssh -F "+sshConf, spokes, scrapes)
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

// result is what benchExporter found for one exporter.
type result struct {
	cold                 time.Duration // start until a scrape had every gateway up
	coldScrapes          int
	coldCPU, coldSSHCPU  time.Duration // the exporter's and its ssh clients' CPU time by then
	median, slowest      time.Duration // of the warm scrapes
	cpuPerScrape         time.Duration
	newSockets, newProcs int   // opened during the warm scrapes
	rss, peak            int64 // bytes
}

// benchExporter starts the exporter over the inventory at inv, waits for the
// scrape that has all n gateways up, then times scrapes warm scrapes.
func benchExporter(ctx context.Context, bin, inv, sshCommand string, n, scrapes int) (r result, err error) {
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
	r.coldCPU = measure.CPUTime(pid)
	kids, _ := measure.Children(pid)
	for _, k := range kids {
		r.coldSSHCPU += measure.CPUTime(k)
	}

	socks, _ := measure.Sockets(pid)
	cpu0 := measure.CPUTime(pid)
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
	r.cpuPerScrape = (measure.CPUTime(pid) - cpu0) / time.Duration(scrapes)
	r.median, r.slowest = measure.Median(times), slices.Max(times)
	socksNow, _ := measure.Sockets(pid)
	kidsNow, _ := measure.Children(pid)
	r.newSockets = len(added(socks, socksNow))
	r.newProcs = len(added(kids, kidsNow))
	r.rss, r.peak = measure.Memory(pid)
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
