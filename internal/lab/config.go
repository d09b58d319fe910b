package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// charonPlugins are the only plugins a lab daemon loads. Plugins that talk to
// the real network (forecast, farp, bypass-lan, dhcp) are never loaded.
// kernel-libipsec comes before kernel-netlink so that it handles IPsec SAs
// (the kernel here has XFRM without ESP) while kernel-netlink does routes.
const charonPlugins = "random nonce openssl pem pkcs1 pkcs8 pkcs12 x509 revocation constraints pubkey " +
	"hmac kdf sha1 sha2 aes gcm kernel-libipsec kernel-netlink socket-default vici updown counters attr"

// swanctlPlugins are what swanctl needs to read credentials, in the order
// of swanctl's default plugin list: x509 before openssl, so that the x509
// plugin decodes certificates for --list-certs as it does for a user.
const swanctlPlugins = "aes sha2 sha1 hmac random nonce x509 revocation constraints pubkey pkcs1 pkcs8 pkcs12 pem openssl"

// availablePlugins keeps the plugins of list whose file exists in the
// plugin directory of root ("" for the host's). Debian testing's strongSwan
// has no aes, sha1, sha2, hmac, kdf or pkcs12 plugin (openssl does that
// work); naming them would make charon and swanctl log a failure for each.
func availablePlugins(root, list string) string {
	var keep []string
	for _, p := range strings.Fields(list) {
		if _, err := os.Stat(filepath.Join(root, pluginDir, "libstrongswan-"+p+".so")); err == nil {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, " ")
}

// swanctlSubdirs are the credential directories swanctl --load-all reads.
func swanctlSubdirs() []string {
	return []string{"conf.d", "x509", "x509ca", "x509aa", "x509ocsp", "x509crl", "x509ac",
		"pubkey", "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12", "run"}
}

// strongswanConf is the daemon and swanctl configuration of one gateway.
// Thresholds are raised and DoS protection is off so that bulk set-up from
// one peer address is not throttled; retransmission is shortened so that a
// dead peer is noticed in seconds, not minutes.
func (g *Gateway) strongswanConf() string {
	return fmt.Sprintf(`# vicish lab %[1]s gateway %[2]s (generated)
charon {
  load = %[3]s
  install_virtual_ip = yes
  threads = 32
  dos_protection = no
  block_threshold = 100000
  cookie_threshold = 100000
  cookie_threshold_ip = 100000
  init_limit_half_open = 100000
  ikesa_table_size = 1024
  ikesa_table_segments = 16
  retransmit_timeout = 1.0
  retransmit_base = 1.5
  retransmit_tries = 4
  filelog {
    lab {
      path = %[4]s
      time_format = %%b %%e %%T
      default = 1
      flush_line = yes
      append = yes
    }
  }
  plugins {
    vici {
      socket = unix://%[5]s
    }
  }
}
swanctl {
  load = %[6]s
  socket = unix://%[5]s
}
`, g.lab.ID, g.Name, availablePlugins(g.root, charonPlugins), g.LogPath, g.Socket, availablePlugins(g.root, swanctlPlugins))
}

// swanctlConf is the preloaded connection set of one gateway.
func (g *Gateway) swanctlConf() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# vicish lab %s gateway %s (generated)\nconnections {\n", g.lab.ID, g.Name)
	for _, c := range g.conns {
		b.WriteString(c.conf())
	}
	fmt.Fprintf(&b, "}\nsecrets {\n  ike-lab {\n    secret = %q\n  }\n}\ninclude %s/*.conf\n", PSK, filepath.Join(g.ConfDir, "conf.d"))
	return b.String()
}

func (g *Gateway) writeConfig() error {
	for _, d := range swanctlSubdirs() {
		if err := os.MkdirAll(filepath.Join(g.ConfDir, d), 0o755); err != nil {
			return fmt.Errorf("gateway %s: %w", g.Name, err)
		}
	}
	if err := os.Chmod(filepath.Join(g.ConfDir, "private"), 0o700); err != nil {
		return err
	}
	files := map[string]string{
		"strongswan.conf": g.strongswanConf(),
		"swanctl.conf":    g.swanctlConf(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(g.ConfDir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("gateway %s: %w", g.Name, err)
		}
	}
	return nil
}
