package starlarkvici

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/starctx"
	"go.starlark.net/starlark"
)

// BenchmarkListConns10000 runs vici.list_conns() against a real charon
// with 10,000 loaded connections: the engine, the conversion of every
// entry to Starlark values and the list the script gets. It also reports
// how much heap the result keeps alive (live-MiB).
func BenchmarkListConns10000(b *testing.B) {
	const n = 10000
	l := labtest.Start(b, lab.OneGateway)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := l.LoadConns(ctx, "a", n); err != nil {
		b.Fatal(err)
	}
	mod := NewModule(Config{URI: l.Gateway("a").URI})
	defer mod.Close()
	thread := &starlark.Thread{Name: "bench"}
	release := starctx.Attach(thread, ctx)
	defer release()
	fn, err := mod.Attr("list_conns")
	if err != nil {
		b.Fatal(err)
	}
	list := func() starlark.Value {
		v, err := starlark.Call(thread, fn, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if got := v.(*starlark.List).Len(); got != n {
			b.Fatalf("%d entries, want %d", got, n)
		}
		return v
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := list()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	v = nil
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for b.Loop() {
		list()
	}
	cpu.report(b)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "live-MiB")
}
