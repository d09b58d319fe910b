package lab

import "context"

// Internals for the external tests (package lab_test), which use labtest.

func IsLabDaemon(pid int, id, gw string) bool { return isLabDaemon(pid, id, gw) }
func IsZombie(pid int) bool                   { return isZombie(pid) }
func TailLines(s string, n int) string        { return tailLines(s, n) }
func ViciVersion(ctx context.Context, socket string) error {
	return viciVersion(ctx, socket)
}

// EstablishedSAs lists the gateway's IKE_SAs named prefix* that are
// established with an installed child.
func (g *Gateway) EstablishedSAs(ctx context.Context, prefix string) (map[string]bool, error) {
	return g.establishedSAs(ctx, prefix)
}

// WithCharonCopy makes Up run a copy of charon even without AppArmor.
func WithCharonCopy(c Config) Config {
	c.copyCharon = true
	return c
}
