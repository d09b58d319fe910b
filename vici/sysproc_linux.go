package vici

import "syscall"

// sshProcAttr puts ssh in its own process group, so a Ctrl-C at the
// terminal interrupts the script, not the tunnel, and has the kernel send
// it SIGTERM should this process die without closing the connection.
func sshProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
