//go:build !unix

package exec

import osexec "os/exec"

// ownGroup leaves cmd as it is: only the program itself is killed on
// cancellation.
func ownGroup(cmd *osexec.Cmd) {}

// killGroup does nothing: there is no process group to kill.
func killGroup(cmd *osexec.Cmd) {}
