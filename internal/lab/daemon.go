package lab

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// Daemon selects which strongSwan a gateway runs.
type Daemon string

const (
	// SystemDaemon is the host's strongSwan (/usr/lib/ipsec/charon and
	// swanctl from the installed Debian packages). It is the default.
	SystemDaemon Daemon = "system"
	// NewestDaemon is the strongSwan of Debian testing, run from a root file
	// system built once per machine with debootstrap (see NewestRoot).
	NewestDaemon Daemon = "newest"
)

// DaemonEnv names the environment variable that makes labtest start every
// gateway with that daemon ("system" or "newest") unless a test chooses one,
// so the same suites run against both.
const DaemonEnv = "VICISH_LAB_DAEMON"

// ParseDaemon accepts "system" or "newest" (any case; empty means system).
func ParseDaemon(s string) (Daemon, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "system":
		return SystemDaemon, nil
	case "newest":
		return NewestDaemon, nil
	}
	return "", fmt.Errorf("unknown daemon %q: use system (the host's strongSwan) or newest (Debian testing's)", s)
}

// DaemonFromEnv returns the daemon named by $VICISH_LAB_DAEMON, or "" when it
// is unset or empty.
func DaemonFromEnv() (Daemon, error) {
	v := os.Getenv(DaemonEnv)
	if strings.TrimSpace(v) == "" {
		return "", nil
	}
	d, err := ParseDaemon(v)
	if err != nil {
		return "", fmt.Errorf("$%s: %w", DaemonEnv, err)
	}
	return d, nil
}

// ParseDaemons reads the --daemon argument of `lab up`: one daemon for every
// gateway ("newest"), or a comma-separated list of gateway=daemon pairs
// ("a=newest,b=system"), where gateways not named run the system daemon.
func ParseDaemons(s string) (all Daemon, per map[string]Daemon, err error) {
	if !strings.Contains(s, "=") {
		all, err = ParseDaemon(s)
		return all, nil, err
	}
	per = map[string]Daemon{}
	for _, part := range strings.Split(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" {
			return "", nil, fmt.Errorf("daemon choice %q: want GATEWAY=system|newest", part)
		}
		d, err := ParseDaemon(value)
		if err != nil {
			return "", nil, fmt.Errorf("gateway %s: %w", name, err)
		}
		if _, dup := per[name]; dup {
			return "", nil, fmt.Errorf("gateway %s is named twice in %q", name, s)
		}
		per[name] = d
	}
	return SystemDaemon, per, nil
}

// daemonFor is the daemon of gateway name under cfg.
func (cfg *Config) daemonFor(name string) Daemon {
	if d, ok := cfg.Daemons[name]; ok && d != "" {
		return d
	}
	if cfg.Daemon != "" {
		return cfg.Daemon
	}
	return SystemDaemon
}

// checkDaemons validates cfg's daemon choices against the gateway names.
func (cfg *Config) checkDaemons(names []string) error {
	if cfg.Daemon != "" {
		if _, err := ParseDaemon(string(cfg.Daemon)); err != nil {
			return err
		}
	}
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	var unknown []string
	for name, d := range cfg.Daemons {
		if _, err := ParseDaemon(string(d)); err != nil {
			return fmt.Errorf("gateway %s: %w", name, err)
		}
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("daemon chosen for gateway(s) %s, which topology %s does not have (it has %s)",
			strings.Join(unknown, ", "), cfg.Topology, strings.Join(names, ", "))
	}
	return nil
}
