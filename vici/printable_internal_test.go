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

// printableAt judges the name's bytes alone, whatever surrounds them and
// whether or not b has room for whole 8-byte loads.
func TestPrintableAt(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for _, room := range []int{0, 3, 8, 16} {
			for c := 0; c < 256; c++ {
				want := c >= 0x20 && c <= 0x7e
				for pos := 0; pos < n; pos++ {
					// The name at 1, between bytes that are not printable.
					b := make([]byte, 1+n+room)
					for i := range b {
						b[i] = 0x80
					}
					for i := range n {
						b[1+i] = 'a'
					}
					b[1+pos] = byte(c)
					if got := printableAt(b, 1, n); got != want {
						t.Fatalf("%d bytes, byte 0x%02x at %d, %d bytes after: printableAt = %v", n, c, pos, room, got)
					}
				}
				if n == 0 {
					b := make([]byte, 1+room)
					if !printableAt(b, 1, 0) {
						t.Fatalf("an empty name with %d bytes after is not printable", room)
					}
				}
			}
		}
	}
}
