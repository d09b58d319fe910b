package main

import (
	"context"
	"io"

	"github.com/vicish/vicish/internal/lab"
)

// stableRootSpec is the Debian stable root the install test installs the
// package into, built and cached by the lab as its newest root is
// (/var/cache/vicish-lab/stable). Beyond minbase it has what an operator's
// machine brings for the package's sake: man-db (man -w), bash-completion
// (it loads the package's completion) and openssh-client (the package
// recommends it, so apt-get installs the .deb without fetching anything).
func stableRootSpec() lab.RootSpec {
	return lab.RootSpec{
		Suite:    "stable",
		Packages: []string{"man-db", "bash-completion", "openssh-client"},
		Files:    []string{"/usr/bin/apt-get", "/usr/bin/man", "/usr/bin/ssh", "/usr/share/bash-completion/bash_completion"},
		Purpose:  "the package's install test",
	}
}

// ensureStableRoot returns the stable root, building it first if needed.
func ensureStableRoot(ctx context.Context, progress io.Writer) (string, error) {
	return lab.EnsureRoot(ctx, stableRootSpec(), progress)
}
