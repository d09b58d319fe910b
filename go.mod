module github.com/vicish/vicish

go 1.26.8

require go.starlark.net v0.0.0-20260908191801-89a6a09411d5

require (
	github.com/chzyer/readline v1.5.1 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	golang.org/x/sys v0.42.0 // indirect
)
