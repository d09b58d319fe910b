package lab

import "testing"

func TestCharonConfinedByAppArmor(t *testing.T) {
	profiles := "/usr/sbin/tcpdump (enforce)\n" + CharonPath + " (enforce)\n"
	if !charonConfined(profiles) {
		t.Error("enforcing charon profile not recognised")
	}
	if charonConfined("/usr/sbin/tcpdump (enforce)\n" + CharonPath + " (complain)\n") {
		t.Error("a complain-mode profile does not confine")
	}
}
