package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/vicish/vicish/internal/readfile"
	"github.com/vicish/vicish/internal/starcheck"
)

const checkUsage = `usage: vicish check [--json] PATH...

Finds mistakes in scripts without running them (no daemon, no root): syntax
errors; undefined names and module members (vici.lst_sas); load() of a file
that does not exist or of a name it does not define; calls with unknown
keywords, missing arguments or literal values of the wrong type (each vici
command's keys are typed as charon reads them); unknown event names in
on(), off() and wait(); callbacks taking the wrong number of parameters.
Calls that need a capability are reported as information (info:), with the
flag the script will need. A directory means the .star files under it,
except in testdata/ and hidden directories; a *_test.star file is checked
with what vicish test adds (assert, fake, run, ...).

  --json   print the findings as a JSON array of {file, line, col,
           severity ("error" or "info"), message}

Prints file:line:col: message, one a line. Exit codes: 0 nothing found
(information does not count) · 1 findings (a syntax error is one) · 2 usage.
`

// checkCommand implements `vicish check` and returns the exit code.
func checkCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	if code, ok := parseSubcommand(fs, args, checkUsage, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, checkUsage)
		return 2
	}
	files, err := starFiles(fs.Args(), isStarFile)
	if err != nil {
		fmt.Fprintf(stderr, "vicish check: %v\n", err)
		return 2
	}
	c, err := starcheck.New()
	if err != nil {
		fmt.Fprintf(stderr, "vicish check: %v\n", err)
		return 1
	}
	type finding struct {
		File     string `json:"file"`
		Line     int32  `json:"line"`
		Col      int32  `json:"col"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
	}
	all := []finding{}
	code := 0
	for _, path := range files {
		src, err := readfile.Read(path, readfile.DefaultLimit)
		if err != nil {
			fmt.Fprintf(stderr, "vicish check: %v\n", err)
			code = 1
			continue
		}
		for _, f := range c.Check(path, src) {
			severity := "error"
			if f.Info {
				severity = "info"
			} else {
				code = 1
			}
			if *asJSON {
				all = append(all, finding{f.Pos.Filename(), f.Pos.Line, f.Pos.Col, severity, f.Msg})
			} else {
				fmt.Fprintln(stdout, f)
			}
		}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(all, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return code
}
