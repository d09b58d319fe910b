// Package readfile reads the files a user names (scripts, configurations,
// credentials) without letting a wrong name hang or exhaust the process:
// only regular files are read, never a fifo, device, socket or directory,
// and never more than a size limit.
package readfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// DefaultLimit is the size limit for scripts and configuration files:
// far above real ones (a swanctl.conf of 100,000 connections is about
// 13 MB) and far below what would strain memory.
const DefaultLimit = 64 << 20

// ErrNotRegular is wrapped by the error of Read for a path that is not a
// regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is wrapped by the error of Read for a file over the limit.
var ErrTooLarge = errors.New("file too large")

// Read returns the contents of the regular file at path, which must hold
// at most limit bytes. The file is opened without blocking, so a fifo
// fails at once instead of waiting for a writer. Errors are *fs.PathError
// with Op "read" and say what the path is when it is not a regular file.
func Read(path string, limit int64) ([]byte, error) {
	if path == "" {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("empty file name")}
	}
	// Look before opening (opening some devices has effects), and again
	// at what was opened, in case path changed in between.
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, st); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, st); err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, tooLarge(path, limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit { // it grew while being read
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

// regular returns nil for a regular file, else the error Read reports.
func regular(path string, st fs.FileInfo) error {
	if st.Mode().IsRegular() {
		return nil
	}
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: it is %s", ErrNotRegular, describe(st.Mode()))}
}

func tooLarge(path string, limit int64) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: over the limit of %d MiB", ErrTooLarge, limit>>20)}
}

// describe names the kind of a file that is not regular.
func describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (fifo)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "of mode " + m.String()
}
