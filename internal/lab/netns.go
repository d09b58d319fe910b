package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
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
