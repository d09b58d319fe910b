package lab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Paths of the strongSwan programs the lab runs.
const (
	// CharonPath is the daemon binary (Debian package strongswan-charon).
	CharonPath = "/usr/lib/ipsec/charon"
	// maxSocketPath is the longest unix socket path the kernel accepts
	// (sun_path is 108 bytes including the terminating NUL).
	maxSocketPath = 107
)

// Packages lists the Debian packages the lab needs.
const Packages = "strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins strongswan-pki iproute2"

var (
	// ErrNotRoot means the lab needs root (namespaces, mounts, veth links).
	ErrNotRoot = errors.New("the lab needs root to create network namespaces and mounts: run as root (e.g. sudo -E go test ./...)")
	// ErrNotInstalled means charon, swanctl, a needed plugin or ip is missing.
	ErrNotInstalled = errors.New("strongSwan is not installed: run `apt-get install -y " + Packages + "` as root")
	// ErrNoTun means /dev/net/tun is missing, which kernel-libipsec needs.
	ErrNoTun = errors.New("/dev/net/tun is missing (kernel-libipsec needs it): run `modprobe tun`, or in a container pass --device /dev/net/tun")
	// ErrSocketPath means a vici socket path would be too long.
	ErrSocketPath = errors.New("vici socket path too long")
)

// requiredPlugins are plugin files the gateway configuration loads and that
// live in packages other than strongswan-charon.
func requiredPlugins() []string {
	return []string{"kernel-libipsec", "vici", "openssl", "kernel-netlink", "socket-default"}
}

// Check reports whether this machine can run a lab: root, strongSwan with the
// needed plugins, iproute2 and /dev/net/tun. The error says what to do.
func Check() error {
	if os.Geteuid() != 0 {
		return ErrNotRoot
	}
	if _, err := os.Stat(CharonPath); err != nil {
		return fmt.Errorf("%w (%s not found)", ErrNotInstalled, CharonPath)
	}
	for _, prog := range []string{"swanctl", "ip", "mount"} {
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("%w (%s not found in PATH)", ErrNotInstalled, prog)
		}
	}
	for _, p := range requiredPlugins() {
		if _, err := os.Stat(pluginDir + "/libstrongswan-" + p + ".so"); err != nil {
			return fmt.Errorf("%w (plugin %s missing in %s)", ErrNotInstalled, p, pluginDir)
		}
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return ErrNoTun
	}
	return nil
}

const pluginDir = "/usr/lib/ipsec/plugins"

// apparmorProfiles lists the loaded AppArmor profiles (absent without AppArmor).
const apparmorProfiles = "/sys/kernel/security/apparmor/profiles"

// charonConfined reports whether an enforcing AppArmor profile is attached to
// CharonPath, given the contents of apparmorProfiles. Ubuntu's and Debian's
// profile lets charon read only /etc/strongswan* and use /run/charon.*, which
// a lab daemon's private files are not.
func charonConfined(profiles string) bool {
	for _, line := range strings.Split(profiles, "\n") {
		if strings.HasPrefix(line, CharonPath+" (enforce)") {
			return true
		}
	}
	return false
}

// charonBinary returns the daemon binary gateways running daemon d execute
// (as seen in their mount namespace, where a newest gateway has root's /usr
// as /usr): CharonPath, or when AppArmor confines it (or force is set), a
// copy of it in dir, which no profile attaches to because profiles attach by
// path. The copy finds its libraries and plugins through absolute paths
// compiled into it, which for a newest gateway lead into root.
func charonBinary(dir, root string, d Daemon, force bool) (string, error) {
	if !force {
		b, err := os.ReadFile(apparmorProfiles)
		if err != nil || !charonConfined(string(b)) {
			return CharonPath, nil
		}
	}
	src, err := os.Open(filepath.Join(root, CharonPath))
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrNotInstalled, err)
	}
	defer src.Close()
	name := "charon"
	if d == NewestDaemon {
		name = "charon-newest"
	}
	dst := filepath.Join(dir, name)
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return "", fmt.Errorf("copy charon out of AppArmor's reach: %w", err)
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return "", fmt.Errorf("copy charon out of AppArmor's reach: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return dst, nil
}
