//go:build unix

package readfile

import "syscall"

// openFlags open a fifo without waiting for a writer; regular files are
// not affected.
const openFlags = syscall.O_NONBLOCK
