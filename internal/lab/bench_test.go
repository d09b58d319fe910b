package lab_test

import (
	"context"
	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"testing"
	"time"
)

// BenchmarkBringUpSAs1000 brings up 1000 IKE+CHILD SAs between a and b per
// iteration (run with: go test -run '^$' -bench BringUpSAs ./internal/lab).
func BenchmarkBringUpSAs1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		l := labtest.Start(b, lab.TwoGateways)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		b.StartTimer()
		if err := l.BringUpSAs(ctx, 1000); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cancel()
		l.Down()
	}
}

// BenchmarkLoadConns10000 loads 10,000 connections into gateway a per
// iteration.
func BenchmarkLoadConns10000(b *testing.B) {
	l := labtest.Start(b, lab.OneGateway)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := l.LoadConns(ctx, "a", 10000); err != nil {
			b.Fatal(err)
		}
	}
}
