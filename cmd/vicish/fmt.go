package main

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vicish/vicish/internal/readfile"
	"github.com/vicish/vicish/internal/starfmt"
	"github.com/vicish/vicish/internal/textdiff"
)

const fmtUsage = `usage: vicish fmt [-l | -d | -w] PATH...

Lays out Starlark files the way buildifier lays out .bzl files: four spaces
a block; a call, list or dict written on one line stays on one line, one
written over several gets one element a line and a trailing comma; at most
one blank line between statements; comments stay where they are. Only the
layout changes, never what the program does.

A directory means the .star files under it, except in testdata/ and hidden
directories. Without PATH, standard input is formatted to standard output.

  -l   list the files whose layout differs (exit 1 if any: for CI)
  -d   print what would change as a unified diff (exit 1 if anything would)
  -w   rewrite the files that differ in place
       (without a flag, the formatted files are printed)

Exit codes: 0 done · 1 a file differs (-l, -d) or does not parse
(file:line:col: message on stderr) · 2 usage.
`

// fmtCommand implements `vicish fmt` and returns the exit code.
func fmtCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fmt", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	list := fs.Bool("l", false, "")
	diff := fs.Bool("d", false, "")
	write := fs.Bool("w", false, "")
	if code, ok := parseSubcommand(fs, args, fmtUsage, stdout, stderr); !ok {
		return code
	}
	if n := btoi(*list) + btoi(*diff) + btoi(*write); n > 1 {
		fmt.Fprintf(stderr, "vicish fmt: -l, -d and -w go one at a time\n%s", fmtUsage)
		return 2
	}
	if fs.NArg() == 0 {
		if *write {
			fmt.Fprint(stderr, "vicish fmt: -w needs files to rewrite\n")
			return 2
		}
		if isTerminal(stdin) {
			fmt.Fprint(stderr, fmtUsage)
			return 2
		}
		src, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "vicish fmt: reading standard input: %v\n", err)
			return 1
		}
		return fmtOne(fmtJob{name: "<stdin>", src: src, list: *list, diff: *diff}, stdout, stderr)
	}
	files, err := starFiles(fs.Args(), isStarFile)
	if err != nil {
		fmt.Fprintf(stderr, "vicish fmt: %v\n", err)
		return 2
	}
	code := 0
	for _, path := range files {
		src, err := readfile.Read(path, readfile.DefaultLimit)
		if err != nil {
			fmt.Fprintf(stderr, "vicish fmt: %v\n", err)
			code = 1
			continue
		}
		if c := fmtOne(fmtJob{name: path, src: src, list: *list, diff: *diff, write: *write}, stdout, stderr); c > code {
			code = c
		}
	}
	return code
}

// fmtJob is one file to format and what to do with the result.
type fmtJob struct {
	name              string
	src               []byte
	list, diff, write bool
}

// fmtOne formats one file and returns 1 if it does not parse or (with
// -l or -d) differs, else 0.
func fmtOne(job fmtJob, stdout, stderr io.Writer) int {
	out, err := starfmt.Format(job.name, job.src)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	same := string(out) == string(job.src)
	switch {
	case job.list:
		if !same {
			fmt.Fprintln(stdout, job.name)
			return 1
		}
	case job.diff:
		if !same {
			stdout.Write(textdiff.Unified(job.name+" (now)", job.name+" (formatted)", job.src, out))
			return 1
		}
	case job.write:
		if !same {
			if err := replaceFile(job.name, out); err != nil {
				fmt.Fprintf(stderr, "vicish fmt: %v\n", err)
				return 1
			}
		}
	default:
		stdout.Write(out)
	}
	return 0
}

// replaceFile replaces the contents of the file at path atomically: a
// temporary file beside it, with its mode, renamed over it (through a
// symbolic link to the file it names), so that a crash leaves either the
// old file or the new one.
func replaceFile(path string, data []byte) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".vicish-fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a failure; the rename moved it otherwise
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}

// isStarFile reports whether a file found in a directory is a Starlark
// file (.star).
func isStarFile(name string) bool { return strings.HasSuffix(name, ".star") }

// starFiles expands the paths given to fmt, check or test: a file stands
// for itself, a directory for the files under it whose names match,
// except in testdata/ (fixtures with deliberate mistakes) and hidden
// directories, as go's ./... skips them. The result is in the order
// given, each directory's files in lexical order, and names each file
// once however many paths lead to it.
func starFiles(paths []string, match func(name string) bool) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	add := func(path string) {
		if clean := filepath.Clean(path); !seen[clean] {
			seen[clean] = true
			files = append(files, path)
		}
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			add(root)
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if match(d.Name()) && d.Type().IsRegular() {
				add(path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
