package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// copyrightFile writes /usr/share/doc/vicish/copyright in Debian's
// machine-readable format. The static binary holds the Go standard library
// and the modules it links, so each gets a paragraph with the copyright
// lines and the full text of its LICENSE, read from the Go installation and
// the module cache at build time.
func copyrightFile(ctx context.Context, src source, bin string) (string, error) {
	goVersion, mods, err := linkedModules(bin)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vicish
Source: https://%s
Comment: /usr/bin/vicish is one statically linked Go program: besides vicish
 it holds the Go standard library (%s) and the Go modules named below, each
 under its own license.

Files: *
Copyright: the vicish authors
License: unpublished
 The vicish authors have not published a license for vicish yet; until
 they do, ask them before you pass it on.
`, modulePath, goVersion)
	goroot, err := goEnv(ctx, src.Repo, "GOROOT")
	if err != nil {
		return "", err
	}
	type part struct{ pattern, name, version, dir string }
	parts := []part{{"go/*", "the Go standard library", goVersion, goroot}}
	for _, m := range mods {
		dir, err := moduleDir(ctx, src.Repo, m.Path, m.Version)
		if err != nil {
			return "", err
		}
		parts = append(parts, part{m.Path + "/*", m.Path, m.Version, dir})
	}
	for _, p := range parts {
		text, err := licenseText(p.dir)
		if err != nil {
			return "", fmt.Errorf("%s %s: %v", p.name, p.version, err)
		}
		name, err := licenseName(text)
		if err != nil {
			return "", fmt.Errorf("%s %s (%s): %v", p.name, p.version, p.dir, err)
		}
		holders := copyrightLines(text)
		if len(holders) == 0 {
			holders = []string{"the authors of " + p.name}
		}
		fmt.Fprintf(&b, "\nFiles: %s\nCopyright: %s\nLicense: %s\n%s\nComment: %s %s, linked into /usr/bin/vicish.\n",
			p.pattern, strings.Join(holders, "\n "), name, paragraphText(text), p.name, p.version)
	}
	return b.String(), nil
}

// moduleDir returns the module cache's directory of module path@version,
// downloading it through the module proxy if it is not there.
func moduleDir(ctx context.Context, repo, path, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", path+"@"+version)
	cmd.Dir = repo
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", path, version, err, m.Error)
	}
	return m.Dir, nil
}

// licenseText reads the license file at the root of dir.
func licenseText(dir string) (string, error) {
	for _, name := range []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "LICENCE"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("no LICENSE file in %s", dir)
}

// licenseName names a license text by its Debian short name; a license it
// does not know is an error, for a person to look at.
func licenseName(text string) (string, error) {
	flat := strings.Join(strings.Fields(text), " ")
	switch {
	case strings.Contains(flat, "Permission is hereby granted, free of charge"):
		return "Expat", nil
	case strings.Contains(flat, "Redistribution and use in source and binary forms") && strings.Contains(flat, "Neither the name"):
		return "BSD-3-clause", nil
	case strings.Contains(flat, "Redistribution and use in source and binary forms"):
		return "BSD-2-clause", nil
	case strings.Contains(flat, "Apache License") && strings.Contains(flat, "Version 2.0"):
		return "Apache-2.0", nil
	}
	return "", fmt.Errorf("a license this tool does not recognise: name it in scripts/debian/copyright.go after reading it")
}

// copyrightLine finds "Copyright (c) 2017 The Bazel Authors" lines.
var copyrightLine = regexp.MustCompile(`(?m)^\s*Copyright\s+(?:\([cC]\)\s*|©\s*)?(.+?)\s*$`)

// copyrightLines returns the holders a license text names, "2017 The Bazel
// Authors. All rights reserved." and the like.
func copyrightLines(text string) []string {
	var out []string
	for _, m := range copyrightLine.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// paragraphText indents a text as a field's continuation lines, with " ."
// for its empty lines.
func paragraphText(text string) string {
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n")), "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			lines[i] = " ."
		} else {
			lines[i] = " " + l
		}
	}
	return strings.Join(lines, "\n")
}
