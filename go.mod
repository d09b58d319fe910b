module github.com/vicish/vicish

go 1.26.8

require (
	github.com/chzyer/readline v1.5.1
	github.com/mattn/go-isatty v0.0.24
	go.starlark.net v0.0.0-20260908191801-89a6a09411d5
	golang.org/x/sys v0.42.0
)
