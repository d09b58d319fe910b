// Command debian builds vicish's Debian package from a git checkout with
// dpkg-deb. `bash scripts/package.sh` runs it from the repository's root:
//
//	go run ./scripts/debian [-out DIR]
//
// writes DIR/vicish_VERSION_ARCH.deb (DIR defaults to dist) for the machine's
// architecture and prints its path. VERSION is the module version of the
// checkout's commit (its tag, else a pseudo-version; see internal/version),
// mapped to a Debian version. The package holds:
//
//	/usr/bin/vicish                      static (CGO_ENABLED=0, -trimpath), version stamped
//	/usr/share/vicish/                   the runbooks of scripts/, with hooks/ and lib/
//	/usr/lib/systemd/system/             the units of examples/systemd (not enabled)
//	/etc/vicish/                         their configuration (conffiles)
//	/usr/share/man/man1/                 vicish(1), vicish-lab(1): made from the binary's help
//	/usr/share/bash-completion/completions/vicish
//	/usr/share/doc/vicish/               copyright, changelog, examples/ (with prometheus/ alert rules)
//
// Files that ship as they are live under scripts/debian/files, at their
// installed paths (everything under etc/ is a conffile).
//
//	go run ./scripts/debian root
//
// builds (once per machine, cached under /var/cache/vicish-lab as the lab
// caches its newest strongSwan's root) or checks the Debian stable root file
// system the package's install test installs it into, and prints where it
// is. scripts/test.sh runs it before the tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: go run ./scripts/debian [-out DIR]    build DIR/vicish_VERSION_ARCH.deb (default DIR: dist)
       go run ./scripts/debian root            build or check the Debian stable root of the install test
`

// run is the command: it returns the exit code (0 done, 1 failed, 2 usage).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "root" {
		if len(args) > 1 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		root, err := ensureStableRoot(ctx, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "debian root: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "stable root %s\n", root)
		return 0
	}
	fs := flag.NewFlagSet("debian", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "dist", "")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err != nil && err != flag.ErrHelp {
			fmt.Fprintf(stderr, "debian: %v\n", err)
		}
		fmt.Fprint(stderr, usage)
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	deb, err := buildPackage(ctx, ".", *out, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "debian: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, deb)
	return 0
}
