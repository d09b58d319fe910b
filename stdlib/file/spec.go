package file

import (
	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/registry"
)

// Spec is the module's table: file.read, and file.write, which needs
// capability.Write.
func Spec() registry.Module {
	return registry.Module{
		Name:    "file",
		Summary: "read(path, default=?), write(path, data): whole files; write is atomic",
		Builtins: []registry.Builtin{
			{Name: "read", Params: registry.MustParams("path, default=?"), Fn: read,
				Doc: "Return the regular file's contents as a str (at most 64 MiB; never a fifo, device or directory); with default given, a path where nothing exists gives default instead of an error."},
			{Name: "write", Params: registry.MustParams("path, data"), Fn: write, Needs: capability.Write,
				Doc: "Replace the file with data (str or bytes) atomically: a temporary file in the same directory, synced, renamed over path; readers see the old or the new contents, never a part."},
		},
	}
}
