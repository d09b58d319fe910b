package bytesize

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for s, want := range map[string]int{
		"0": 0, "4096": 4096, "64K": 64 << 10, "64KiB": 64 << 10, "512MiB": 512 << 20,
		"512mib": 512 << 20, "512MB": 512 << 20, "2G": 2 << 30, "1024G": 1 << 40,
	} {
		if got, err := Parse(s); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "MiB", "-1", "1.5G", "12 apples", "1025G", "64T"} {
		if n, err := Parse(s); err == nil || !strings.Contains(err.Error(), "is not a size") {
			t.Errorf("Parse(%q) = %d, %v; want an error", s, n, err)
		}
	}
}

func TestText(t *testing.T) {
	for n, want := range map[int]string{
		0: "0 bytes", 1023: "1023 bytes", 1024: "1 KiB", 900 << 10: "900 KiB",
		512 << 20: "512 MiB", 3 << 29: "1.5 GiB", 62<<20 + 1<<19: "62.5 MiB", 2 << 40: "2 TiB",
	} {
		if got := Text(n); got != want {
			t.Errorf("Text(%d) = %q, want %q", n, got, want)
		}
	}
}
