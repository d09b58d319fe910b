// Package file provides the Starlark "file" module, which reads and writes
// whole files:
//
//	file.read(path, default=?) → str
//	file.write(path, data)     → None
//
// read returns a regular file's contents (never a fifo, device or
// directory, and at most readfile.DefaultLimit bytes); when default is
// given and nothing exists at path, it returns default instead of failing
// (a state file on a program's first run). write replaces the
// file at path with data (str or bytes) atomically: it writes a temporary
// file in the same directory, syncs it and renames it over path, so a
// reader (node_exporter's textfile collector, say) sees the old contents
// or the new, never a part. A new file gets mode 0644, a replaced one
// keeps its mode. Relative paths are relative to the working directory.
//
// Replacing files is a privilege the host grants (capability.Write): unless
// the module's gate grants it, file.write refuses every call.
package file

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/internal/readfile"
)

// NewModule returns a "file" module. Unless gate grants capability.Write,
// file.write fails with a *capability.DeniedError.
func NewModule(gate *capability.Gate) *starlarkstruct.Module { return Spec().Build(gate) }

func write(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	var data starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "data", &data); err != nil {
		return nil, err
	}
	var content []byte
	switch d := data.(type) {
	case starlark.String:
		content = []byte(d)
	case starlark.Bytes:
		content = []byte(d)
	default:
		return nil, fmt.Errorf("%s: data must be str or bytes, got %s", b.Name(), data.Type())
	}
	if err := WriteAtomic(path, content); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

func read(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	var def starlark.Value // nil: not given
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "default?", &def); err != nil {
		return nil, err
	}
	data, err := readfile.Read(path, readfile.DefaultLimit)
	if err != nil && def != nil && errors.Is(err, os.ErrNotExist) {
		return def, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(data), nil
}

// WriteAtomic replaces the file at path with data: a temporary file in
// the same directory, synced, then renamed over path. A new file gets mode
// 0644, an existing one keeps its mode. Only a regular file (or nothing)
// may be at path. On failure path is untouched and no temporary file is
// left.
func WriteAtomic(path string, data []byte) error {
	if path == "" {
		return &os.PathError{Op: "write", Path: path, Err: errors.New("empty file name")}
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return &os.PathError{Op: "write", Path: path, Err: fmt.Errorf("%w (mode %v); only a regular file is replaced", readfile.ErrNotRegular, st.Mode())}
		}
		mode = st.Mode().Perm()
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		// name the file asked for, not the temporary one
		var perr *os.PathError
		if errors.As(err, &perr) {
			err = perr.Err
		}
		return &os.PathError{Op: "write", Path: path, Err: fmt.Errorf("cannot create a file in %s: %w", dir, err)}
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return nil
}
