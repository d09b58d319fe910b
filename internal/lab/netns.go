package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// SendUDP sends one UDP datagram from src to dst (both IP addresses, port 9,
// "discard") inside the gateway's network namespace, e.g. from LocalA to
// LocalB through the tunnel. Nothing needs to listen on dst: the packet is
// counted on its way out of this gateway's CHILD_SA (bytes-out) and into the
// peer's (bytes-in) either way.
func (g *Gateway) SendUDP(ctx context.Context, src, dst string, payload []byte) error {
	var conn *net.UDPConn
	err := g.inNetns(func() error {
		var err error
		conn, err = net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, &net.UDPAddr{IP: net.ParseIP(dst), Port: 9})
		return err
	})
	if err != nil {
		return fmt.Errorf("gateway %s: udp %s -> %s: %w", g.Name, src, dst, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if _, err := conn.Write(payload); err != nil {
		return fmt.Errorf("gateway %s: udp %s -> %s: %w", g.Name, src, dst, err)
	}
	return nil
}

// inNetns runs fn on an OS thread switched into the gateway's network
// namespace. Sockets created by fn belong to that namespace and keep working
// after the thread switches back.
func (g *Gateway) inNetns(fn func() error) error {
	target, err := os.Open("/run/netns/" + g.Netns)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := setns(int(target.Fd())); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		ferr := fn()
		if err := setns(int(orig.Fd())); err != nil {
			// Leave the thread locked: the runtime discards it when this
			// goroutine ends, so no other goroutine runs in the lab netns.
			errc <- fmt.Errorf("restore netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// setnsTrap is the setns(2) system call number of this architecture (the
// syscall package does not export it for every GOARCH).
func setnsTrap() uintptr {
	switch runtime.GOARCH {
	case "amd64":
		return 308
	case "arm64", "riscv64", "loong64":
		return 268
	case "386":
		return 346
	case "arm":
		return 375
	case "ppc64le", "ppc64":
		return 350
	case "s390x":
		return 339
	}
	return 0
}

func setns(fd int) error {
	trap := setnsTrap()
	if trap == 0 {
		return fmt.Errorf("setns: unsupported architecture %s", runtime.GOARCH)
	}
	_, _, e := syscall.Syscall(trap, uintptr(fd), syscall.CLONE_NEWNET, 0)
	if e != 0 {
		return e
	}
	return nil
}

// netnsPIDs lists the processes whose network namespace is the named one,
// comparing namespace inodes (/proc/PID/ns/net against /run/netns/NAME).
func netnsPIDs(ns string) []int {
	var want syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+ns, &want); err != nil {
		return nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/ns/net", &st) == nil && st.Ino == want.Ino && st.Dev == want.Dev {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killNetnsProcesses SIGKILLs every process in the lab namespace ns and
// waits until they are gone (or zombies).
func killNetnsProcesses(ns string) error {
	pids := netnsPIDs(ns)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range pids {
		for !isZombie(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("process %d in %s did not exit after SIGKILL", pid, ns)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// descendants lists the children of pid, their children and so on.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := procStat(p)
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := children[pid]
	seen := map[int]bool{pid: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out
}
