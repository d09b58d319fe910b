//go:build unix

package exec

import (
	osexec "os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own and makes cancellation
// kill the whole group, so a timeout also stops what the program started
// (the other side of a shell pipeline, a background child).
func ownGroup(cmd *osexec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
