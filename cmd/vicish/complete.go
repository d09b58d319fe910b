package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/vicish/vicish/capability"
)

// completeCommand is the hidden command behind the bash completion
// (scripts/debian/vicish.bash): `vicish __complete WORD...` is given the
// words after `vicish` up to the one being completed (possibly "") and
// prints what may go there. The candidates come from this binary's own
// flags, commands and help, so the completion follows the installed vicish.
//
// Its output is one line saying which file names to add ("files .star",
// "files", "dirs" or "none"), then the candidate words, one a line, already
// matched against the word being completed.
const completeCommand = "__complete"

// A completion is what may go where the shell's cursor is.
type completion struct {
	words []string // candidates, matched against the word typed
	files string   // "files .star", "files" (any file), "dirs" or "none"
}

func runComplete(args []string, _ io.Reader, stdout, _ io.Writer) int {
	if len(args) == 0 {
		args = []string{""}
	}
	c := completeTop(args)
	if c.files == "" {
		c.files = "none"
	}
	fmt.Fprintln(stdout, c.files)
	cur := args[len(args)-1]
	for _, w := range c.words {
		if strings.HasPrefix(w, cur) {
			fmt.Fprintln(stdout, w)
		}
	}
	return 0
}

// completeTop completes the last of args, the words after `vicish`.
func completeTop(args []string) completion {
	cur, prev := args[len(args)-1], args[:len(args)-1]
	if len(prev) > 0 {
		if c := findCommand(prev[0]); c != nil && !c.hidden {
			if c.complete == nil {
				return starFileArgs()(args[1:])
			}
			return c.complete(args[1:])
		}
	}
	var opts options
	var showVersion, help bool
	fs := newFlagSet(&opts, map[capability.Capability]bool{}, &showVersion, &help)
	for i := 0; i < len(prev); i++ {
		a := prev[i]
		if a == "--" {
			if i+1 < len(prev) { // FILE came after --: the script's arguments
				return completion{files: "files"}
			}
			return completion{files: "files .star"}
		}
		if a == "-" || !strings.HasPrefix(a, "-") { // FILE: the rest is the script's
			return completion{files: "files"}
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil || hasValue || !takesValue(f) {
			continue
		}
		if i+1 == len(prev) { // the cursor is on this flag's value
			if name == "uri" || name == "record" {
				return completion{files: "files"} // a socket's path, the recording's
			}
			return completion{files: "none"}
		}
		if name == "c" || name == "e" { // CODE ends the flags
			return completion{files: "files"}
		}
		i++ // the value
	}
	if strings.HasPrefix(cur, "-") {
		return completion{words: flagNames(fs), files: "none"}
	}
	var names []string
	for _, c := range commands() {
		if !c.hidden {
			names = append(names, c.name)
		}
	}
	return completion{words: names, files: "files .star"}
}

// starFileArgs completes a command that takes flags (none of which takes
// a value) and .star files or directories: the flags where a word starts
// with -, else the files.
func starFileArgs(flags ...string) func(args []string) completion {
	return func(args []string) completion {
		if strings.HasPrefix(args[len(args)-1], "-") {
			return completion{words: flags, files: "none"}
		}
		return completion{files: "files .star"}
	}
}

// takesValue reports whether f needs a value (is not a boolean flag).
func takesValue(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// flagNames lists fs's flags as they are typed: -x for one letter, --name
// for longer names.
func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) == 1 {
			names = append(names, "-"+f.Name)
		} else {
			names = append(names, "--"+f.Name)
		}
	})
	return names
}

// labSyntax reads the commands of `vicish lab` and each one's flags from
// the Usage lines of its help: for each command, its flags (--dir) mapped
// to whether a value follows (D).
func labSyntax() map[string]map[string]bool {
	syntax := map[string]map[string]bool{}
	var flags map[string]bool
	inUsage := false
	for _, line := range strings.Split(labUsage, "\n") {
		switch {
		case line == "Usage:":
			inUsage = true
			continue
		case line == "" || !strings.HasPrefix(line, " "):
			inUsage = false
		}
		if !inUsage {
			continue
		}
		words := strings.Fields(strings.NewReplacer("[", " ", "]", " ", "|", " ").Replace(line))
		if len(words) > 2 && words[0] == "vicish" && words[1] == "lab" {
			flags = map[string]bool{}
			syntax[words[2]] = flags
			words = words[3:]
		}
		for i, w := range words {
			if strings.HasPrefix(w, "--") && flags != nil {
				flags[w] = i+1 < len(words) && isMetavariable(words[i+1])
			}
		}
	}
	return syntax
}

// isMetavariable reports whether w stands for a value (D, GW, ID).
func isMetavariable(w string) bool {
	return w != "" && strings.ToUpper(w) == w && strings.ToLower(w) != w && !strings.HasPrefix(w, "-")
}

// completeLab completes the last of args, the words after `vicish lab`.
func completeLab(args []string) completion {
	syntax := labSyntax()
	cur, prev := args[len(args)-1], args[:len(args)-1]
	if len(prev) == 0 {
		var names []string
		for name := range syntax {
			names = append(names, name)
		}
		sort.Strings(names)
		return completion{words: names, files: "none"}
	}
	flags, ok := syntax[prev[0]]
	if !ok {
		return completion{files: "none"}
	}
	if len(prev) > 1 {
		last := prev[len(prev)-1]
		if name, _, hasValue := strings.Cut(last, "="); flags[name] && !hasValue {
			if name == "--dir" {
				return completion{files: "dirs"}
			}
			return completion{files: "none"}
		}
	}
	if !strings.HasPrefix(cur, "-") {
		return completion{files: "none"}
	}
	var names []string
	for name := range flags {
		names = append(names, name)
	}
	sort.Strings(names)
	return completion{words: names, files: "none"}
}
