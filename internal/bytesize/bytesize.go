// Package bytesize reads and writes amounts of memory as people write
// them: "512MiB" on a command line, "512 MiB" in a message. The memory
// budgets (vicish --max-listing, --max-event-queue) and the errors that
// name them use it.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse reads a size: a whole number of bytes, or one with a unit K, M,
// G or KiB, MiB, GiB (the same, binary; any case, B optional), e.g.
// 512MiB or 2G. It accepts at most 1 TiB.
func Parse(s string) (int, error) {
	num := strings.TrimRight(s, "KMGBkmgib")
	unit := strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(s[len(num):], "B"), "b"))
	shift := map[string]uint{"": 0, "k": 10, "ki": 10, "m": 20, "mi": 20, "g": 30, "gi": 30}
	sh, okUnit := shift[unit]
	n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil || !okUnit || n > 1<<40>>sh {
		return 0, fmt.Errorf("%q is not a size: write bytes, or a number with K, M or G (KiB, MiB, GiB), e.g. 512MiB", s)
	}
	return int(n << sh), nil
}

// Text writes n bytes for a person: "512 MiB", "1.5 GiB", "900 KiB",
// "12 bytes".
func Text(n int) string {
	units := []string{"bytes", "KiB", "MiB", "GiB", "TiB"}
	v, u := float64(n), 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	switch {
	case u == 0:
		return fmt.Sprintf("%d bytes", n)
	case v == float64(int(v)):
		return fmt.Sprintf("%d %s", int(v), units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}
