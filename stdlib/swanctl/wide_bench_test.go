package swanctl

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkLoadWide loads a connection with many keys: the requests are
// built by appending, so the cost grows linearly with the key count.
func BenchmarkLoadWide(b *testing.B) {
	for _, n := range []int{10000, 40000} {
		dir := b.TempDir()
		var sb strings.Builder
		sb.WriteString("connections {\n  wide {\n")
		for i := range n {
			fmt.Fprintf(&sb, "    opt%d = %d\n", i, i)
		}
		sb.WriteString("  }\n}\n")
		writeFile(b, dir+"/swanctl.conf", sb.String())
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := loadConf(context.Background(), dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
