package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var t0 = time.Date(2025, 3, 31, 22, 0, 0, 0, time.UTC)

type backend struct {
	name string
	// newLimiters returns a maker of limiters sharing state (replicas).
	newLimiters func(t *testing.T, clock *fakeClock) func() Limiter
}

func backends() []backend {
	return []backend{
		{"memory", func(_ *testing.T, clock *fakeClock) func() Limiter {
			l := NewMemory(MemoryOptions{Now: clock.Now})
			return func() Limiter { return l }
		}},
		{"redis", func(t *testing.T, clock *fakeClock) func() Limiter {
			rdb, prefix := testRedis(t)
			return func() Limiter {
				return NewRedis(rdb, RedisOptions{Prefix: prefix, Now: clock.Now, OnFailure: FailClosed})
			}
		}},
	}
}

func TestRequestsPerMinute(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := &fakeClock{t: t0}
			l := be.newLimiters(t, clock)()
			lim := Limits{RPM: 3}
			steps := []struct {
				advance   time.Duration
				allowed   bool
				remaining int
				reset     time.Duration
				retry     time.Duration
			}{
				{0, true, 2, 20 * time.Second, 0},
				{0, true, 1, 40 * time.Second, 0},
				{0, true, 0, 60 * time.Second, 0},
				{0, false, 0, 60 * time.Second, 20 * time.Second},
				{10 * time.Second, false, 0, 50 * time.Second, 10 * time.Second},
				{10 * time.Second, true, 0, 60 * time.Second, 0},
				{2 * time.Minute, true, 2, 20 * time.Second, 0},
			}
			for i, s := range steps {
				clock.Add(s.advance)
				r, err := l.Allow(ctx, "key:a", lim, 0)
				if err != nil {
					t.Fatal(err)
				}
				if r.Allowed != s.allowed || r.RemainingRequests != s.remaining || r.ResetRequests != s.reset || r.RetryAfter != s.retry || r.LimitRequests != 3 {
					t.Fatalf("step %d: %+v; want allowed %v remaining %d reset %v retry %v", i, r, s.allowed, s.remaining, s.reset, s.retry)
				}
			}
		})
	}
}

func TestTokensPerMinute(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := &fakeClock{t: t0}
			l := be.newLimiters(t, clock)()
			lim := Limits{TPM: 6000}
			r, err := l.Allow(ctx, "key:t", lim, 4000)
			if err != nil || !r.Allowed || r.RemainingTokens != 2000 || r.ResetTokens != 40*time.Second || r.LimitRequests != 0 {
				t.Fatalf("first: %+v, %v", r, err)
			}
			// The response used 1000 more tokens than estimated.
			if err := l.AddTokens(ctx, "key:t", 1000); err != nil {
				t.Fatal(err)
			}
			r, err = l.Allow(ctx, "key:t", lim, 2000)
			if err != nil || r.Allowed || r.RemainingTokens != 1000 || r.RetryAfter != 10*time.Second {
				t.Fatalf("after AddTokens: %+v, %v; want refused, 1000 left, retry 10s", r, err)
			}
			// A refund (negative AddTokens) makes room at once.
			if err := l.AddTokens(ctx, "key:t", -1000); err != nil {
				t.Fatal(err)
			}
			if r, err = l.Allow(ctx, "key:t", lim, 2000); err != nil || !r.Allowed {
				t.Fatalf("after refund: %+v, %v", r, err)
			}
			if err := l.AddTokens(ctx, "key:unknown", 5); err != nil {
				t.Fatalf("AddTokens on an unseen subject: %v", err)
			}
			_, err = l.Allow(ctx, "key:t", lim, 6001)
			var tl *TooLargeError
			if !errors.As(err, &tl) || tl.Limit != 6000 || tl.Requested != 6001 {
				t.Fatalf("oversized request: err = %v; want *TooLargeError", err)
			}
			if le := tl.LLMError(); le.Status != http.StatusTooManyRequests || !strings.Contains(le.Message, "shorten the prompt or lower max_tokens") {
				t.Fatalf("TooLargeError.LLMError = %+v", le)
			}
		})
	}
}

func TestAllowAllIsAtomic(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := &fakeClock{t: t0}
			l := be.newLimiters(t, clock)()
			team := Check{Subject: "team:x", Limits: Limits{RPM: 1}}
			if r, err := l.AllowAll(ctx, []Check{{Subject: "key:1", Limits: Limits{RPM: 5}}, team}, 0); err != nil || !r.Allowed {
				t.Fatalf("first: %+v, %v", r, err)
			}
			r, err := l.AllowAll(ctx, []Check{{Subject: "key:2", Limits: Limits{RPM: 5, TPM: 100}}, team}, 10)
			if err != nil || r.Allowed {
				t.Fatalf("team exhausted: %+v, %v; want refused", r, err)
			}
			// Headers report the tightest subject: the team, with 0 left.
			if r.LimitRequests != 1 || r.RemainingRequests != 0 || r.LimitTokens != 100 || r.RemainingTokens != 100 {
				t.Fatalf("refusal result = %+v", r)
			}
			// key:2 was not charged by the refused request.
			r, err = l.Allow(ctx, "key:2", Limits{RPM: 5, TPM: 100}, 10)
			if err != nil || r.RemainingRequests != 4 || r.RemainingTokens != 90 {
				t.Fatalf("key:2 after refused AllowAll: %+v, %v; want 4 requests and 90 tokens left", r, err)
			}
		})
	}
}

// TestExactAcrossReplicas: 300 concurrent attempts split across two
// limiters sharing state, at a frozen instant, admit exactly RPM. Leases
// trade that exactness for fewer round trips (TestLeases), so the Redis
// limiters here take none.
func TestExactAcrossReplicas(t *testing.T) {
	t.Parallel()
	exact := backends()
	exact[1].newLimiters = func(t *testing.T, clock *fakeClock) func() Limiter {
		rdb, prefix := testRedis(t)
		return func() Limiter {
			return NewRedis(rdb, RedisOptions{Prefix: prefix, Now: clock.Now, OnFailure: FailClosed, Lease: -1})
		}
	}
	for _, be := range exact {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: t0}
			mk := be.newLimiters(t, clock)
			allowed, refused := race(t, []Limiter{mk(), mk()}, 300, Limits{RPM: 100, TPM: 1_000_000})
			if allowed != 100 || refused != 200 {
				t.Fatalf("allowed %d refused %d; want exactly 100 and 200", allowed, refused)
			}
		})
	}
}

// race sends n concurrent requests of 10 tokens for one subject, taking
// turns over replicas, and counts how many were allowed and refused.
func race(t *testing.T, replicas []Limiter, n int, lim Limits) (allowed, refused int) {
	var wg sync.WaitGroup
	var a, r atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := replicas[i%len(replicas)].Allow(context.Background(), "key:hot", lim, 10)
			switch {
			case err != nil:
				t.Error(err)
			case res.Allowed:
				a.Add(1)
			default:
				r.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(a.Load()), int(r.Load())
}

func unreachableRedis(t *testing.T) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestRedisFailureModes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("open", func(t *testing.T) {
		t.Parallel()
		clock := &fakeClock{t: t0}
		l := NewRedis(unreachableRedis(t), RedisOptions{Now: clock.Now, OnFailure: FailOpen})
		r, err := l.Allow(ctx, "key:a", Limits{RPM: 1}, 0)
		if err != nil || !r.Allowed || !r.Degraded {
			t.Fatalf("fail-open first: %+v, %v; want allowed and degraded", r, err)
		}
		// Local counters still limit this replica.
		r, err = l.Allow(ctx, "key:a", Limits{RPM: 1}, 0)
		if err != nil || r.Allowed || !r.Degraded {
			t.Fatalf("fail-open second: %+v, %v; want refused by local counters", r, err)
		}
		if err := l.AddTokens(ctx, "key:a", 5); err != nil {
			t.Fatalf("fail-open AddTokens: %v", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		t.Parallel()
		l := NewRedis(unreachableRedis(t), RedisOptions{OnFailure: FailClosed})
		_, err := l.Allow(ctx, "key:a", Limits{RPM: 1}, 0)
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("fail-closed: err = %v; want *UnavailableError", err)
		}
		le := ue.LLMError()
		if le.Status != http.StatusServiceUnavailable || le.RetryAfter <= 0 || !strings.Contains(le.Message, "retry") {
			t.Fatalf("UnavailableError.LLMError = %+v", le)
		}
		if err := l.AddTokens(ctx, "key:a", 5); !errors.As(err, &ue) {
			t.Fatalf("fail-closed AddTokens: %v", err)
		}
	})
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    Result
		want map[string]string
	}{
		{"both", Result{Allowed: true, LimitRequests: 60, RemainingRequests: 59, ResetRequests: time.Second, LimitTokens: 150000, RemainingTokens: 149984, ResetTokens: 6 * time.Minute},
			map[string]string{
				"X-Ratelimit-Limit-Requests": "60", "X-Ratelimit-Remaining-Requests": "59", "X-Ratelimit-Reset-Requests": "1s",
				"X-Ratelimit-Limit-Tokens": "150000", "X-Ratelimit-Remaining-Tokens": "149984", "X-Ratelimit-Reset-Tokens": "6m0s",
			}},
		{"rounds reset up to ms", Result{LimitRequests: 1, ResetRequests: 1500*time.Microsecond + 1},
			map[string]string{"X-Ratelimit-Limit-Requests": "1", "X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "2ms"}},
		{"negative remaining shows 0", Result{LimitTokens: 10, RemainingTokens: -5},
			map[string]string{"X-Ratelimit-Limit-Tokens": "10", "X-Ratelimit-Remaining-Tokens": "0", "X-Ratelimit-Reset-Tokens": "0s"}},
		{"no limits no headers", Result{Allowed: true}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			tt.r.Headers(h)
			if len(h) != len(tt.want) {
				t.Fatalf("headers %v; want %v", h, tt.want)
			}
			for k, v := range tt.want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q; want %q", k, got, v)
				}
			}
		})
	}
}

func TestRefusalError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		r         Result
		wantWhat  string
		wantRetry time.Duration
	}{
		{"requests", Result{LimitRequests: 10, RemainingRequests: 0, LimitTokens: 100, RemainingTokens: 50, RetryAfter: 1500 * time.Millisecond}, "requests per minute (limit 10)", 2 * time.Second},
		{"tokens", Result{LimitRequests: 10, RemainingRequests: 3, LimitTokens: 100, RemainingTokens: 5, RetryAfter: 100 * time.Millisecond}, "tokens per minute (limit 100)", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			le := tt.r.LLMError()
			if le.Status != http.StatusTooManyRequests || le.Code != "rate_limit_exceeded" || le.RetryAfter != tt.wantRetry {
				t.Fatalf("LLMError = %+v", le)
			}
			if !strings.Contains(le.Message, tt.wantWhat) || !strings.Contains(le.Message, "try again in") {
				t.Fatalf("message %q lacks %q", le.Message, tt.wantWhat)
			}
		})
	}
}
