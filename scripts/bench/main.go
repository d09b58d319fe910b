// Command bench times a full list-conns of 10,000 connections through the
// vici engine and through the vicish binary, against a minimal reader that
// only counts frames, side by side in one run against one real charon
// daemon.
//
// Run it as root (the lab needs network namespaces) from the repository:
//
//	go run ./scripts/bench [-conns 10000] [-rounds 7] [-cpuprofile engine.prof]
//	                       [-engine=false] [-e2e=false] [-vicish old/vicish,new/vicish]
//
// It starts a one-gateway lab, loads the connections, then runs rounds of
// the readers (the raw frame counter; the raw reader decoding each entry
// with the engine's codec, on its own goroutine; the engine's CallStream;
// its CallStreamInline releasing every entry; its Stream), rotating which
// goes first.
// Every round must see every connection. It prints each round, the median
// of each reader, the engine's ratio to the raw floor (target: ≤ 1.2) and
// the CPU time this process spent per listing (user + system), which is
// less noisy than wall time on a busy machine. It also prints the median
// of the per-round ratios (each reader against the raw frame counter of
// the same round), wall and CPU, and the load average at the end.
//
// End to end, it then runs `vicish -c 'print(len(vici.list_conns()))'`
// (built from ./cmd/vicish unless -vicish names a binary) and a child
// process running the raw frame counter, one listing per process, in
// alternating rounds, and a third child that reads like the frame counter
// and builds the native Starlark result as cheaply as it can be built: the
// floor under any client returning native dicts and lists. From each
// child's rusage it prints CPU (user + system), wall time and peak RSS,
// the per-round ratios of the floor to the raw counter, and those of
// vicish against the goal: CPU at most 1.10× the floor's, peak RSS at most
// 4 MiB above the floor's, wall time at most 1.10× the raw counter's.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/vici"
)

func main() {
	conns := flag.Int("conns", 10000, "connections to load and list")
	rounds := flag.Int("rounds", 7, "rounds per reader (alternating)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the engine rounds to this file")
	engine := flag.Bool("engine", true, "measure the engine in this process")
	e2e := flag.Bool("e2e", true, "measure the vicish binary end to end")
	vicish := flag.String("vicish", "", "the vicish binaries to measure, comma-separated (default: build ./cmd/vicish)")
	rawChild := flag.String(rawChildFlag, "", "internal: run one raw listing against this socket and print the count")
	floorChild := flag.String(floorChildFlag, "", "internal: run one listing against this socket, build the native result and print its length")
	flag.Parse()
	if *rawChild != "" || *floorChild != "" {
		var err error
		if *rawChild != "" {
			err = runRawChild(*rawChild)
		} else {
			err = runFloorChild(*floorChild)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*conns, *rounds, *cpuprofile, *engine, *e2e, *vicish); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(conns, rounds int, cpuprofile string, engine, e2e bool, vicish string) (err error) {
	if err := lab.Check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var bins []string
	if vicish != "" {
		bins = strings.Split(vicish, ",")
	} else if e2e {
		dir, err := os.MkdirTemp("", "vicish-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		bin, err := buildVicish(ctx, dir)
		if err != nil {
			return err
		}
		bins = []string{bin}
	}

	start := time.Now()
	l, err := lab.Up(ctx, lab.Config{Topology: lab.OneGateway})
	if err != nil {
		return err
	}
	defer func() {
		if derr := l.Down(); err == nil {
			err = derr
		}
	}()
	g := l.Gateway("a")
	fmt.Printf("lab %s up in %v (gateway a: %s)\n", l.ID, time.Since(start).Round(time.Millisecond), g.URI)

	start = time.Now()
	if err := l.LoadConns(ctx, "a", conns); err != nil {
		return err
	}
	fmt.Printf("loaded %d connections in %v\n", conns, time.Since(start).Round(time.Millisecond))
	_, addr, err := vici.ParseURI(g.URI)
	if err != nil {
		return err
	}
	if engine {
		if err := engineRounds(ctx, g.URI, addr, conns, rounds, cpuprofile); err != nil {
			return err
		}
	}
	if e2e {
		return endToEnd(ctx, bins, g.URI, addr, conns, rounds)
	}
	return nil
}

// engineRounds measures the engine in this process against the raw
// readers, listing over connections of its own.
func engineRounds(ctx context.Context, uri, addr string, conns, rounds int, cpuprofile string) (err error) {

	client, err := vici.Dial(ctx, uri)
	if err != nil {
		return err
	}
	defer client.Close()
	raw, err := dialRaw(addr)
	if err != nil {
		return err
	}
	defer raw.Close()

	var prof *os.File
	if cpuprofile != "" {
		if prof, err = os.Create(cpuprofile); err != nil {
			return err
		}
		defer prof.Close()
	}

	readers := []struct {
		name string
		list func() (int, error)
	}{
		{"raw frame counter", raw.listConns},
		{"raw + decode", func() (int, error) {
			return raw.listConnsDecode()
		}},
		{"engine CallStream", func() (int, error) {
			n := 0
			_, err := client.CallStream(ctx, "list-conns", "list-conn", nil, func(*vici.Message) error {
				n++
				return nil
			})
			return n, err
		}},
		{"engine inline+Release", func() (int, error) {
			n := 0
			_, err := client.CallStreamInline(ctx, "list-conns", "list-conn", nil, func(m *vici.Message) error {
				n++
				m.Release()
				return nil
			})
			return n, err
		}},
		{"engine Stream", func() (int, error) {
			n := 0
			for _, err := range client.Stream(ctx, "list-conns", "list-conn", nil) {
				if err != nil {
					return n, err
				}
				n++
			}
			return n, nil
		}},
	}
	// One warm-up round each, not counted.
	for _, r := range readers {
		if n, err := r.list(); err != nil || n != conns {
			return fmt.Errorf("warm-up %s: %d of %d entries, %v", r.name, n, conns, err)
		}
	}
	times := make([][]time.Duration, len(readers))
	cpus := make([][]time.Duration, len(readers))
	cpu := make([]time.Duration, len(readers))
	for round := 1; round <= rounds; round++ {
		// Rotate who goes first, so that no reader always follows another.
		for k := range readers {
			i := (k + round) % len(readers)
			r := readers[i]
			c0 := processCPU()
			t0 := time.Now()
			n, err := r.list()
			d := time.Since(t0)
			dc := processCPU() - c0
			cpu[i] += dc
			cpus[i] = append(cpus[i], dc)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, r.name, err)
			}
			if n != conns {
				return fmt.Errorf("round %d, %s: %d entries, want %d", round, r.name, n, conns)
			}
			times[i] = append(times[i], d)
			fmt.Printf("round %d  %-21s %6d entries  %8.1f ms\n", round, r.name, n, ms(d))
		}
	}

	floor := median(times[0])
	fmt.Printf("\nmedian of %d rounds, list-conns of %d connections:\n", rounds, conns)
	for i, r := range readers {
		m := median(times[i])
		ratio := float64(m) / float64(floor)
		verdict := ""
		if strings.HasPrefix(r.name, "engine") {
			verdict = "ok (≤ 1.2×)"
			if ratio > 1.2 {
				verdict = "SLOWER than the 1.2× target"
			}
		}
		fmt.Printf("  %-21s %8.1f ms  (min %8.1f ms)  %.3f× raw  our CPU %6.1f ms/listing  %s\n",
			r.name, ms(m), ms(slices.Min(times[i])), ratio, ms(cpu[i]/time.Duration(rounds)), verdict)
	}
	// Load from elsewhere drifts during a run; a ratio taken within each
	// round (the readers run back to back) is steadier than the ratio of
	// the medians above.
	fmt.Printf("per-round ratios to the raw frame counter (median; min-max):\n")
	for i, r := range readers[1:] {
		wall, cpuR := make([]float64, rounds), make([]float64, rounds)
		for k := range rounds {
			wall[k] = float64(times[i+1][k]) / float64(times[0][k])
			cpuR[k] = float64(cpus[i+1][k]) / float64(max(cpus[0][k], 1))
		}
		fmt.Printf("  %-21s wall %.3f× (%.3f-%.3f)  CPU %.2f× (%.2f-%.2f)\n", r.name,
			medianF(wall), slices.Min(wall), slices.Max(wall), medianF(cpuR), slices.Min(cpuR), slices.Max(cpuR))
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average: %s", load)
	}

	// Profile separate engine rounds, so the figures above stay unprofiled.
	if prof != nil {
		if err := pprof.StartCPUProfile(prof); err != nil {
			return err
		}
		for round := 0; round < rounds; round++ {
			if n, err := readers[2].list(); err != nil || n != conns {
				pprof.StopCPUProfile()
				return fmt.Errorf("profiled round: %d entries, %v", n, err)
			}
		}
		pprof.StopCPUProfile()
		fmt.Printf("\nCPU profile of %d engine rounds in %s (go tool pprof %s)\n", rounds, cpuprofile, cpuprofile)
	}
	return nil
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func medianF(fs []float64) float64 {
	s := slices.Clone(fs)
	slices.Sort(s)
	return s[len(s)/2]
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// rawConn is the floor: it speaks just enough VICI to list connections and
// counts EVENT frames without decoding them.
type rawConn struct {
	c   net.Conn
	r   *bufio.Reader
	buf []byte
}

func dialRaw(path string) (*rawConn, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, r: bufio.NewReaderSize(c, 64<<10), buf: make([]byte, 64<<10)}, nil
}

func (r *rawConn) Close() error { return r.c.Close() }

// Packet types used here.
const (
	cmdRequest      = 0
	cmdResponse     = 1
	eventRegister   = 3
	eventUnregister = 4
	eventConfirm    = 5
	event           = 7
)

// send writes one named packet with an empty message.
func (r *rawConn) send(typ byte, name string) error {
	pkt := make([]byte, 4, 4+2+len(name))
	binary.BigEndian.PutUint32(pkt, uint32(2+len(name)))
	pkt = append(pkt, typ, byte(len(name)))
	pkt = append(pkt, name...)
	_, err := r.c.Write(pkt)
	return err
}

// nextBody reads one frame and returns its packet type and the message
// after the name (valid until the next read).
func (r *rawConn) nextBody() (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n == 0 || n > 512<<10 {
		return 0, nil, fmt.Errorf("bad frame length %d", n)
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return 0, nil, err
	}
	body := b[1:]
	if b[0] == event && len(body) > 0 {
		body = body[1+int(body[0]):]
	}
	return b[0], body, nil
}

// listConnsDecode is listConns that also decodes every entry with the
// engine's codec on the reading goroutine: no hand-over between
// goroutines. Comparing it with the engine separates decoding from the
// rest of the client's work.
func (r *rawConn) listConnsDecode() (int, error) {
	return r.listConnsWith(func() (byte, error) {
		typ, body, err := r.nextBody()
		if err != nil || typ != event {
			return typ, err
		}
		var m vici.Message
		if err := m.UnmarshalBinary(body); err != nil {
			return typ, err
		}
		if m.Len() != 1 {
			return typ, fmt.Errorf("list-conn entry with %d top-level entries", m.Len())
		}
		return typ, nil
	})
}

// next reads one frame and returns its packet type; the body is skipped.
func (r *rawConn) next() (byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return 0, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n == 0 || n > 512<<10 {
		return 0, fmt.Errorf("bad frame length %d", n)
	}
	typ, err := r.r.ReadByte()
	if err != nil {
		return 0, err
	}
	if _, err := r.r.Discard(n - 1); err != nil {
		return 0, err
	}
	return typ, nil
}

func (r *rawConn) expect(want byte) error {
	typ, err := r.next()
	if err != nil {
		return err
	}
	if typ != want {
		return fmt.Errorf("got packet type %d, want %d", typ, want)
	}
	return nil
}

// listConns registers list-conn, runs list-conns, counts the events until
// the response and unregisters again, like the engine does per stream.
func (r *rawConn) listConns() (int, error) { return r.listConnsWith(r.next) }

// listConnsWith runs one listing, reading each frame of the stream with
// read, which returns the frame's packet type, and counts the events.
func (r *rawConn) listConnsWith(read func() (byte, error)) (int, error) {
	if err := r.send(eventRegister, "list-conn"); err != nil {
		return 0, err
	}
	if err := r.expect(eventConfirm); err != nil {
		return 0, fmt.Errorf("register: %w", err)
	}
	if err := r.send(cmdRequest, "list-conns"); err != nil {
		return 0, err
	}
	n := 0
	for {
		typ, err := read()
		if err != nil {
			return n, err
		}
		if typ == event {
			n++
			continue
		}
		if typ != cmdResponse {
			return n, fmt.Errorf("unexpected packet type %d", typ)
		}
		break
	}
	if err := r.send(eventUnregister, "list-conn"); err != nil {
		return n, err
	}
	if err := r.expect(eventConfirm); err != nil {
		return n, fmt.Errorf("unregister: %w", err)
	}
	return n, nil
}
