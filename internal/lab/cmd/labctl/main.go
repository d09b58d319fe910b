// Command labctl runs `lab up|down|status` until the vicish program offers
// them as `vicish lab ...`.
package main

import (
	"os"

	"github.com/vicish/vicish/internal/lab"
)

func main() {
	os.Exit(lab.Command(os.Args[1:], os.Stdout, os.Stderr))
}
