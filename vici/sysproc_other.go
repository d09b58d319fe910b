//go:build !linux

package vici

import "syscall"

// sshProcAttr has no settings to add where Pdeathsig does not exist.
func sshProcAttr() *syscall.SysProcAttr { return nil }
