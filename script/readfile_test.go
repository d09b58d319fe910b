package script_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vicish/vicish/script"
)

// TestReadOnlyRegularFiles: load() and the script file itself refuse
// devices and fifos at once (load("/dev/zero", "x") ran out of memory, a
// fifo blocked until a writer came).
func TestReadOnlyRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "lib.star")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	rt, _ := newRuntime(t)
	for src, want := range map[string]string{
		`load("/dev/zero", "x")`:    `load "/dev/zero": read /dev/zero: not a regular file: it is a character device`,
		`load("/dev/urandom", "x")`: `load "/dev/urandom": read /dev/urandom: not a regular file: it is a character device`,
		`load("` + fifo + `", "x")`: `read ` + fifo + `: not a regular file: it is a named pipe (fifo)`,
	} {
		_, err := rt.ExecFile(context.Background(), "main.star", src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", src, err, want)
		}
	}
	for _, name := range []string{"/dev/zero", fifo} {
		_, err := rt.ExecFile(context.Background(), name, nil)
		var usage *script.UsageError
		if !errors.As(err, &usage) || !strings.Contains(err.Error(), "cannot read script: read "+name+": not a regular file") {
			t.Errorf("running %s: got %v, want a usage error saying it is not a regular file", name, err)
		}
	}
}
