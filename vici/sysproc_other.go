//go:build !linux

package vici

import (
	"os"
	"syscall"
)

// sshProcAttr has no settings to add where Pdeathsig does not exist.
func sshProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup sends sig to p alone: it shares this process's group here.
func signalGroup(p *os.Process, sig syscall.Signal) error { return p.Signal(sig) }
