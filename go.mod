module github.com/vicish/vicish

go 1.26.8

require (
	github.com/chzyer/readline v1.5.1
	github.com/mattn/go-isatty v0.0.24
	go.starlark.net v0.0.0-20260908191801-89a6a09411d5
	golang.org/x/sys v0.42.0
)

// buildtools is only for a test: it checks vicish fmt's layout against
// buildifier's.
require github.com/bazelbuild/buildtools v0.0.0-20260904073137-eaa4d125b423
