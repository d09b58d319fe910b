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

// killGroup kills what is left of cmd's process group after a timeout or
// cancellation: children that outlived the program itself (a background
// job holding the output open), which Cancel does not reach once the
// program has exited.
func killGroup(cmd *osexec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
