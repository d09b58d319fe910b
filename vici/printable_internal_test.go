package vici

import "testing"

func TestPrintable(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= 0x20 && c <= 0x7e
		for _, pos := range []int{0, 3, 7, 8, 12, 16} {
			p := []byte("abcdefghijklmnopq")
			p[pos] = byte(c)
			if got := printable(p); got != want {
				t.Fatalf("byte 0x%02x at %d: printable = %v", c, pos, got)
			}
		}
	}
}
