package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// terminal is vicish running on a pseudo-terminal, driven like a person at
// a keyboard: type keys, then wait for text to appear on the screen.
type terminal struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd

	mu   sync.Mutex
	cond *sync.Cond
	out  []byte // everything the program wrote
	seen int    // how much of out earlier expectations consumed
	eof  bool
	done chan struct{}
}

// openPTY opens a new pseudo-terminal pair with a 120x40 window.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	ws := &unix.Winsize{Row: 40, Col: 120}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, ws); err != nil {
		master.Close()
		slave.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

// startTerminal runs vicish (this test binary) with args on a new
// pseudo-terminal that is its controlling terminal, so Ctrl-C raises SIGINT.
func startTerminal(t *testing.T, env []string, args ...string) *terminal {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Fatalf("pseudo-terminal: %v", err)
	}
	cmd := vicishCmd(t, append([]string{"TERM=xterm"}, env...), args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start vicish: %v", err)
	}
	slave.Close()
	term := &terminal{t: t, master: master, cmd: cmd, done: make(chan struct{})}
	term.cond = sync.NewCond(&term.mu)
	go term.read()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-term.done
		master.Close()
		if t.Failed() {
			t.Logf("screen:\n%s", term.screen())
		}
	})
	return term
}

func (term *terminal) read() {
	defer close(term.done)
	buf := make([]byte, 4096)
	for {
		n, err := term.master.Read(buf)
		term.mu.Lock()
		term.out = append(term.out, buf[:n]...)
		if err != nil {
			term.eof = true
		}
		term.cond.Broadcast()
		term.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// screen returns all output with escape sequences removed.
func (term *terminal) screen() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return stripEscapes(string(term.out))
}

var escapes = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

func stripEscapes(s string) string { return escapes.ReplaceAllString(s, "") }

// typeKeys writes keystrokes to the terminal.
func (term *terminal) typeKeys(keys string) {
	term.t.Helper()
	if _, err := term.master.Write([]byte(keys)); err != nil {
		term.t.Fatalf("typing %q: %v", keys, err)
	}
}

// expect waits until want appears in the output after what earlier
// expectations consumed, and consumes up to its end. It gives up after a
// minute (a hang, not a slow machine) or when the program ends.
func (term *terminal) expect(want string) {
	term.t.Helper()
	term.await(want, false)
}

// expectLine is expect for a want that starts a line.
func (term *terminal) expectLine(want string) {
	term.t.Helper()
	term.await(want, true)
}

// prompt waits for a fresh "vici> " prompt: one at the start of a line.
// readline redraws the prompt with every key typed, so a bare "vici> " may
// match the redraw of the line just entered, and keys typed then reach a
// terminal the REPL is not reading yet.
func (term *terminal) prompt() {
	term.t.Helper()
	term.expectLine("vici> ")
}

// await is expect, and expectLine when lineStart is set.
func (term *terminal) await(want string, lineStart bool) {
	term.t.Helper()
	giveUp := time.AfterFunc(time.Minute, func() {
		term.mu.Lock()
		term.eof = true
		term.cond.Broadcast()
		term.mu.Unlock()
	})
	defer giveUp.Stop()
	term.mu.Lock()
	defer term.mu.Unlock()
	consumed := stripEscapes(string(term.out[:term.seen]))
	atLineStart := func(rest string, i int) bool {
		if !lineStart {
			return true
		}
		if i > 0 {
			return rest[i-1] == '\n'
		}
		return consumed == "" || strings.HasSuffix(consumed, "\n")
	}
	for {
		rest := stripEscapes(string(term.out[term.seen:]))
		for i := 0; i <= len(rest)-len(want); i++ {
			if rest[i:i+len(want)] != want || !atLineStart(rest, i) {
				continue
			}
			// consume the raw output up to the match's last byte
			for n := term.seen; n <= len(term.out); n++ {
				if s := stripEscapes(string(term.out[term.seen:n])); len(s) == i+len(want) && strings.HasSuffix(s, want) {
					term.seen = n
					break
				}
			}
			return
		}
		if term.eof {
			where := ""
			if lineStart {
				where = " at the start of a line"
			}
			term.t.Fatalf("never saw %q%s; output since the last match:\n%s", want, where, rest)
		}
		term.cond.Wait()
	}
}

// wait waits for the program to end and returns its exit code.
func (term *terminal) wait() int {
	term.t.Helper()
	err := term.cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		term.t.Fatalf("vicish: %v", err)
	}
	return 0
}
