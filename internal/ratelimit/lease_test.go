package ratelimit

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// scriptCounter counts the scripts a client runs: the limiter's round
// trips.
type scriptCounter struct{ n atomic.Int64 }

func (c *scriptCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *scriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "evalsha" || cmd.Name() == "eval" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *scriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func leasedLimiter(t *testing.T, clock *fakeClock) (Limiter, *scriptCounter, func() Limiter) {
	rdb, prefix := testRedis(t)
	trips := &scriptCounter{}
	rdb.AddHook(trips)
	mk := func() Limiter {
		return NewRedis(rdb, RedisOptions{Prefix: prefix, Now: clock.Now, OnFailure: FailClosed, Lease: time.Second})
	}
	return mk(), trips, mk
}

// TestLeases: a replica decides the requests a lease covers without a
// round trip, says in its headers what is left in total, and gives back
// what it did not use once the lease has run out.
func TestLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{t: t0}
	l, trips, _ := leasedLimiter(t, clock)
	lim := Limits{RPM: 6000} // a lease is a second's refill: 100 requests

	// The first request goes to Redis and takes a lease of 100.
	r, err := l.Allow(ctx, "key:a", lim, 0)
	if err != nil || !r.Allowed || r.RemainingRequests != 5999 || trips.n.Load() != 1 {
		t.Fatalf("first: %+v, %v, %d round trips; want allowed, 5999 left, 1 round trip", r, err, trips.n.Load())
	}
	// The next 100 are the lease's: no round trip, and the headers count
	// down as if each had gone to Redis.
	for i := range 100 {
		r, err = l.Allow(ctx, "key:a", lim, 0)
		if err != nil || !r.Allowed || r.RemainingRequests != 5998-i {
			t.Fatalf("leased request %d: %+v, %v; want allowed with %d left", i, r, err, 5998-i)
		}
	}
	if n := trips.n.Load(); n != 1 {
		t.Fatalf("%d round trips for 101 requests; want 1", n)
	}
	// The lease is spent: the next request goes to Redis again.
	if r, err = l.Allow(ctx, "key:a", lim, 0); err != nil || !r.Allowed || r.RemainingRequests != 5898 || trips.n.Load() != 2 {
		t.Fatalf("after the lease: %+v, %v, %d round trips; want 5898 left and a second round trip", r, err, trips.n.Load())
	}

	// After a second the unused lease of 100 goes back with the next
	// round trip: 103 requests used, 100 refilled, so 5997 are left; a
	// lease lost instead of given back would leave 5897.
	clock.Add(time.Second)
	if r, err = l.Allow(ctx, "key:a", lim, 0); err != nil || !r.Allowed || r.RemainingRequests != 5997 || trips.n.Load() != 3 {
		t.Fatalf("after expiry: %+v, %v, %d round trips; want 5997 left and a round trip", r, err, trips.n.Load())
	}
	if d := l.(DecisionCounter).Decisions(); d.Leased != 100 || d.Shared != 3 {
		t.Fatalf("Decisions() = %+v; want 100 leased and 3 by Redis", d)
	}
}

// TestLeaseStopsNearTheLimit: a lease takes at most an eighth of what is
// left, so leases shrink as the limit nears, the last requests each go
// to Redis, and the limit holds to the request.
func TestLeaseStopsNearTheLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{t: t0}
	l, trips, _ := leasedLimiter(t, clock)
	lim := Limits{RPM: 600} // a lease of 10 while 80 or more are left
	allowed := 0
	for range 700 {
		r, err := l.Allow(ctx, "key:b", lim, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 600 {
		t.Fatalf("allowed %d of 700; want exactly 600", allowed)
	}
	// 70 round trips admit the 600: leases of 10 while 80 or more are
	// left, then of an eighth of what is left, then one request each for
	// the last 8. Each of the 100 refusals is a round trip too.
	if n := trips.n.Load(); n != 170 {
		t.Fatalf("%d round trips; want 70 + 100", n)
	}
}

// TestLeasesNeverOverAdmit: replicas racing with leases admit no more
// than the limit, and less only by the leases they hold at the end.
func TestLeasesNeverOverAdmit(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: t0}
	_, _, mk := leasedLimiter(t, clock)
	lim := Limits{RPM: 1200, TPM: 1_000_000} // leases of 20 requests
	if n, _ := race(t, []Limiter{mk(), mk()}, 2000, lim); n > 1200 || n < 1200-2*20 {
		t.Fatalf("allowed %d; want 1160..1200", n)
	}
}

// TestLeasedTokenCorrections: a live lease pays a response's correction
// as far as it can, and the shared bucket takes the rest at once, so no
// replica holds a debt that the others cannot see.
func TestLeasedTokenCorrections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{t: t0}
	l, _, mk := leasedLimiter(t, clock)
	other := mk()
	lim := Limits{TPM: 600_000} // leases of 10,000 tokens
	if r, err := l.Allow(ctx, "key:c", lim, 1000); err != nil || !r.Allowed || r.RemainingTokens != 599_000 {
		t.Fatalf("first: %+v, %v", r, err)
	}
	// The response used 5000 more than estimated: the lease pays it.
	if err := l.AddTokens(ctx, "key:c", 5000); err != nil {
		t.Fatal(err)
	}
	if r, err := l.Allow(ctx, "key:c", lim, 1000); err != nil || !r.Allowed || r.RemainingTokens != 593_000 {
		t.Fatalf("after the correction: %+v, %v; want 593000 left", r, err)
	}
	// This one overruns the 4000 left in the lease: the other 6000 go to
	// the shared bucket.
	if err := l.AddTokens(ctx, "key:c", 10_000); err != nil {
		t.Fatal(err)
	}
	if r, err := l.Allow(ctx, "key:c", lim, 1000); err != nil || !r.Allowed || r.RemainingTokens != 582_000 {
		t.Fatalf("after the overrun: %+v, %v; want 582000 left", r, err)
	}
	if r, err := other.Allow(ctx, "key:c", lim, 1000); err != nil || !r.Allowed || r.RemainingTokens != 571_000 {
		t.Fatalf("another replica: %+v, %v; want 571000 left (the first replica's lease of 10000 is not left for it)", r, err)
	}

	// Near the limit a lease is small (an eighth of what is left: 62
	// here), and a correction beyond it reaches the other replicas.
	small := Limits{TPM: 6000}
	if r, err := l.Allow(ctx, "key:d", small, 5500); err != nil || !r.Allowed {
		t.Fatalf("near the limit: %+v, %v", r, err)
	}
	if err := l.AddTokens(ctx, "key:d", 400); err != nil {
		t.Fatal(err)
	}
	if r, err := other.Allow(ctx, "key:d", small, 200); err != nil || r.Allowed || r.RemainingTokens != 100 {
		t.Fatalf("another replica after the correction: %+v, %v; want refused with 100 left", r, err)
	}
}

// TestIdleLeasesGo: a replica forgets a subject's lease a minute after it
// ran out unused, and what it held is not admitted twice: the subject's
// next request starts a new lease from the shared bucket.
func TestIdleLeasesGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := &fakeClock{t: t0}
	l, _, _ := leasedLimiter(t, clock)
	rl := l.(*redisLimiter)
	lim := Limits{RPM: 6000}
	for _, s := range []string{"key:1", "key:2", "key:3"} {
		if r, err := l.Allow(ctx, s, lim, 0); err != nil || !r.Allowed {
			t.Fatalf("%s: %+v, %v", s, r, err)
		}
	}
	if n := rl.leases.len(); n != 3 {
		t.Fatalf("%d leases; want 3", n)
	}
	// Not yet a minute past expiry: they stay.
	clock.Add(30 * time.Second)
	if _, err := l.Allow(ctx, "key:4", lim, 0); err != nil {
		t.Fatal(err)
	}
	if n := rl.leases.len(); n != 4 {
		t.Fatalf("%d leases after 30s; want 4", n)
	}
	clock.Add(2 * time.Minute)
	if _, err := l.Allow(ctx, "key:1", lim, 0); err != nil {
		t.Fatal(err)
	}
	// key:1 came back and has a lease again; the others are gone.
	if n := rl.leases.len(); n != 1 {
		t.Fatalf("%d leases after two idle minutes; want 1", n)
	}
	if r, err := l.Allow(ctx, "key:2", lim, 0); err != nil || !r.Allowed || r.RemainingRequests != 5999 {
		t.Fatalf("key:2 after its lease went: %+v, %v; want a fresh bucket with 5999 left", r, err)
	}
}
