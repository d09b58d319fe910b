package file

import "github.com/vicish/vicish/stdlib/doc"

// Doc describes the module for help().
func Doc() doc.Module {
	return doc.Module{
		Name:    "file",
		Summary: "read(path, default=?), write(path, data): whole files; write is atomic (needs --allow-write)",
		Builtins: []doc.Builtin{
			doc.Fn("read", "path, default=?", "Return the regular file's contents as a str (at most 64 MiB; never a fifo, device or directory); with default given, a path where nothing exists gives default instead of an error."),
			doc.Fn("write", "path, data", "Replace the file with data (str or bytes) atomically: a temporary file in the same directory, synced, renamed over path; readers see the old or the new contents, never a part. Needs --allow-write."),
		},
	}
}
