package log_test

import (
	"fmt"
	"os"
	"time"

	libtime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/vicish/vicish/stdlib/log"
)

// A host predeclares the module; a fixed clock keeps the output stable.
func ExampleNewModule() {
	thread := &starlark.Thread{Name: "runbook"}
	libtime.SetNow(thread, func() (time.Time, error) {
		return time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC), nil
	})
	src := `
log.info("moving CHILD_SA", conn="primary", to="backup")
log.error("backup did not come up", waited="30s")
`
	predeclared := starlark.StringDict{"log": log.NewModule(os.Stdout, false)}
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "runbook.star", src, predeclared); err != nil {
		fmt.Println(err)
	}
	predeclared = starlark.StringDict{"log": log.NewModule(os.Stdout, true)}
	if _, err := starlark.ExecFileOptions(&syntax.FileOptions{}, thread, "runbook.star", `log.warn("slow peer", rtt_ms=850)`, predeclared); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 2026-11-22T17:00:00.000Z INFO  moving CHILD_SA conn=primary to=backup
	// 2026-11-22T17:00:00.000Z ERROR backup did not come up waited=30s
	// {"time":"2026-11-22T17:00:00Z","level":"warn","msg":"slow peer","fields":{"rtt_ms":850}}
}
