package vici

import (
	"os"
	"syscall"
)

// sshProcAttr puts ssh in a process group of its own, so a Ctrl-C at the
// terminal interrupts the script, not the tunnel, and has the kernel send
// it SIGTERM should this process die without closing the connection.
func sshProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// signalGroup sends sig to p's process group (p leads it, see
// sshProcAttr): ssh and whatever it started, such as a ProxyCommand.
func signalGroup(p *os.Process, sig syscall.Signal) error {
	return syscall.Kill(-p.Pid, sig)
}
