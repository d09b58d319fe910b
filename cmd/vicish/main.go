// Command vicish is a Starlark REPL and script runner for strongSwan's
// charon daemon, speaking the VICI protocol.
//
// On a terminal it starts a REPL; `vicish FILE [ARGS...]` runs a script,
// `vicish -c CODE [ARGS...]` runs CODE, and a program on standard input that
// is not a terminal is run as a script. `vicish lab up|down|status|kill|
// restart|swanctl|root` manages a lab of real charon daemons. Run `vicish -h`
// for the details.
package main

import "os"

func main() {
	os.Exit(runPaced(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, newGCPacer(os.Getenv)))
}
