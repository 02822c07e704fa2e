package route

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchRouter is a pool of 20 deployments with live state: some latency
// history, quotas, prices, a reserved one and an open breaker.
func benchRouter(b *testing.B, strategy string) *Router {
	deps := make([]*Deployment, 20)
	names := make([]string, 20)
	for i := range deps {
		deps[i] = &Deployment{
			Name: fmt.Sprintf("d%02d", i), Provider: "openai", Region: "us-east-1",
			Priority: i % 3, Weight: 1 + i%4, Reserved: i == 7,
			Price: Price{InputPerMTok: float64(1 + i%5), OutputPerMTok: float64(4 + i%5)},
			Quota: Quota{RPM: 1000 * (1 + i%3), TPM: 1_000_000},
		}
		names[i] = deps[i].Name
	}
	r := mustRouter(b, deps, []PoolConfig{{Alias: "m", Strategy: strategy, Deployments: names}}, Options{})
	now := time.Now().UnixNano()
	for i, d := range deps {
		d.st.total.observe(now, time.Duration(100+i*10)*time.Millisecond)
		d.st.ttft.observe(now, time.Duration(50+i*5)*time.Millisecond)
	}
	deps[3].st.brk.failure(now, false)
	for range 10 {
		deps[3].st.brk.failure(now, false)
	}
	return r
}

// BenchmarkPick measures choosing a deployment in a pool of 20, alone.
func BenchmarkPick(b *testing.B) {
	for _, s := range Strategies {
		b.Run(s, func(b *testing.B) {
			r := benchRouter(b, s)
			p := r.pools["m"]
			q := &Requirements{EstimatedInputTokens: 500, MaxOutputTokens: 200}
			c := candidates{r: r, q: q, ds: p.deps, tried: make([]bool, 20), busy: make([]bool, 20)}
			now := time.Now().UnixNano()
			b.ReportAllocs()
			for b.Loop() {
				if i, _ := c.pick(s, now); i < 0 {
					b.Fatal("no pick")
				}
			}
		})
	}
}

// BenchmarkDo measures a whole Do with an attempt that answers at once,
// from many goroutines: routing overhead per request under contention.
func BenchmarkDo(b *testing.B) {
	ok := func(context.Context, *Deployment) error { return nil }
	for _, s := range Strategies {
		b.Run(s, func(b *testing.B) {
			r := benchRouter(b, s)
			req := Requirements{EstimatedInputTokens: 500, MaxOutputTokens: 200}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.Do(context.Background(), "m", req, ok); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
