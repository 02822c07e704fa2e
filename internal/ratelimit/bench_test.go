package ratelimit

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkMemoryAllow measures one request checked against its key and
// team limits on the in-memory limiter.
func BenchmarkMemoryAllow(b *testing.B) {
	l := NewMemory(MemoryOptions{})
	ctx := context.Background()
	var checks [][]Check
	for i := range 256 {
		checks = append(checks, []Check{
			{Subject: "key:" + strconv.Itoa(i), Limits: Limits{RPM: 1 << 30, TPM: 1 << 40}},
			{Subject: "team:" + strconv.Itoa(i%16), Limits: Limits{RPM: 1 << 30, TPM: 1 << 40}},
		})
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := l.AllowAll(ctx, checks[i%len(checks)], 100); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMemoryAllowOne is the single-subject path.
func BenchmarkMemoryAllowOne(b *testing.B) {
	l := NewMemory(MemoryOptions{})
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := l.Allow(ctx, "key:k", Limits{RPM: 1 << 30, TPM: 1 << 40}, 100); err != nil {
			b.Fatal(err)
		}
	}
}
