package readfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/vicish/vicish/internal/readfile"
)

// TestRead: a fifo fails at once (opening it for reading would wait for a
// writer, and reading it would block), devices and directories are refused
// before reading, and the limit holds.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.conf")
	if err := os.WriteFile(file, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readfile.Read(file, 10); err != nil || string(got) != "0123456789" {
		t.Fatalf("regular file at the limit: %q, %v", got, err)
	}
	for _, tc := range []struct {
		path  string
		limit int64
		want  string
		is    error
	}{
		{file, 9, "read " + file + ": file too large: over the limit of 0 MiB", readfile.ErrTooLarge},
		{dir, 1 << 20, "read " + dir + ": not a regular file: it is a directory", readfile.ErrNotRegular},
		{fifo, 1 << 20, "read " + fifo + ": not a regular file: it is a named pipe (fifo)", readfile.ErrNotRegular},
		{"/dev/zero", 1 << 20, "read /dev/zero: not a regular file: it is a character device", readfile.ErrNotRegular},
		{"/dev/urandom", 1 << 20, "read /dev/urandom: not a regular file: it is a character device", readfile.ErrNotRegular},
		{"", 1 << 20, "read : empty file name", nil},
		{filepath.Join(dir, "missing"), 1 << 20, "no such file or directory", os.ErrNotExist},
	} {
		_, err := readfile.Read(tc.path, tc.limit)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read(%q): got %v, want %q", tc.path, err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("Read(%q): %v does not wrap %v", tc.path, err, tc.is)
		}
	}
}
