package route

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestDoRetryAfter(t *testing.T) {
	t.Run("honoured before retrying the same deployment", func(t *testing.T) {
		clk := newFakeClock()
		var times []time.Time
		r := mustRouter(t, []*Deployment{{Name: "a"}}, []PoolConfig{{Alias: "m", Deployments: []string{"a"}}}, Options{Clock: clk})
		out, err := r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error {
			times = append(times, clk.Now())
			if len(times) == 1 {
				return throttled(3 * time.Second)
			}
			return nil
		})
		if err != nil || out.Attempts != 2 {
			t.Fatalf("got %v after %d attempts, want success after 2", err, out.Attempts)
		}
		if gap := times[1].Sub(times[0]); gap < 3*time.Second {
			t.Errorf("retried after %v, want at least the 3s Retry-After", gap)
		}
	})
	t.Run("beyond the deadline returns the 429", func(t *testing.T) {
		clk := newFakeClock()
		r := mustRouter(t, []*Deployment{{Name: "a"}}, []PoolConfig{{Alias: "m", Deployments: []string{"a"}, Retry: RetryConfig{Deadline: 10 * time.Second}}}, Options{Clock: clk})
		out, err := r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { return throttled(time.Hour) })
		le := asLLM(t, err)
		if le.Status != http.StatusTooManyRequests || le.RetryAfter != time.Hour || out.Attempts != 1 {
			t.Fatalf("got %d retry-after %v after %d attempts, want the upstream 429 with its 1h after 1", le.Status, le.RetryAfter, out.Attempts)
		}
	})
	t.Run("failover to another deployment does not wait", func(t *testing.T) {
		clk := newFakeClock()
		start := clk.Now()
		r := mustRouter(t, []*Deployment{{Name: "a"}, {Name: "b", Priority: 1}}, []PoolConfig{{Alias: "m", Deployments: []string{"a", "b"}}}, Options{Clock: clk})
		out, err := r.Do(context.Background(), "m", Requirements{}, func(_ context.Context, d *Deployment) error {
			if d.Name == "a" {
				return throttled(30 * time.Second)
			}
			return nil
		})
		if err != nil || out.Deployment.Name != "b" || out.Attempts != 2 {
			t.Fatalf("got %v on %v after %d attempts", err, out.Deployment, out.Attempts)
		}
		if waited := clk.Now().Sub(start); waited != 0 {
			t.Errorf("waited %v before failing over", waited)
		}
	})
}

func TestDoFailures(t *testing.T) {
	connErr := errors.New("dial tcp 10.0.0.1:443: connect: connection refused")
	tests := []struct {
		desc         string
		err          error
		wantStatus   int
		wantCode     string
		wantAttempts int
	}{
		{desc: "upstream 503 is passed on", err: unavailable(), wantStatus: 503, wantAttempts: 3},
		{desc: "upstream 429 is passed on", err: throttled(0), wantStatus: 429, wantAttempts: 3},
		{desc: "connection errors become 502", err: connErr, wantStatus: 502, wantCode: "upstream_unreachable", wantAttempts: 3},
		{desc: "timeout is retried", err: &llm.Error{Status: 504, Type: llm.TypeTimeout, Upstream: true, Message: "slow"}, wantStatus: 504, wantAttempts: 3},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			clk := newFakeClock()
			r := mustRouter(t, []*Deployment{{Name: "a"}, {Name: "b"}}, []PoolConfig{{Alias: "m", Deployments: []string{"a", "b"}}}, Options{Clock: clk})
			out, err := r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { return tc.err })
			le := asLLM(t, err)
			if le.Status != tc.wantStatus || le.Code != tc.wantCode || out.Attempts != tc.wantAttempts {
				t.Fatalf("got %d %q after %d attempts, want %d %q after %d", le.Status, le.Code, out.Attempts, tc.wantStatus, tc.wantCode, tc.wantAttempts)
			}
			if strings.Contains(le.Message, "10.0.0.1") {
				t.Errorf("message %q leaks the upstream address", le.Message)
			}
		})
	}
	t.Run("all breakers open", func(t *testing.T) {
		clk := newFakeClock()
		r := mustRouter(t, []*Deployment{{Name: "a"}}, []PoolConfig{{Alias: "m", Deployments: []string{"a"},
			Breaker: BreakerConfig{FailureThreshold: 1, OpenFor: time.Minute}, Retry: RetryConfig{MaxAttempts: 1}}}, Options{Clock: clk})
		r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { return unavailable() })
		calls := 0
		out, err := r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { calls++; return nil })
		le := asLLM(t, err)
		if le.Status != 503 || le.Code != "no_healthy_deployment" || calls != 0 || out.Attempts != 0 {
			t.Fatalf("got %d %s after %d calls", le.Status, le.Code, calls)
		}
		if le.RetryAfter < 59*time.Second || !strings.Contains(le.Message, "retry in 60 seconds") {
			t.Errorf("retry-after %v, message %q: want about a minute, when the breaker admits a trial", le.RetryAfter, le.Message)
		}
	})
}

func TestDoHedge(t *testing.T) {
	deps := []*Deployment{{Name: "slow", Priority: 0}, {Name: "fast", Priority: 1}}
	pools := []PoolConfig{{Alias: "m", Deployments: []string{"slow", "fast"}, Hedge: HedgeConfig{Enabled: true, Delay: 5 * time.Millisecond}}}
	t.Run("second attempt wins, loser cancelled", func(t *testing.T) {
		r := mustRouter(t, deps, pools, Options{})
		loserCause := make(chan error, 1)
		out, err := r.Do(context.Background(), "m", Requirements{}, func(ctx context.Context, d *Deployment) error {
			if d.Name == "slow" {
				<-ctx.Done() // never answers on its own
				loserCause <- context.Cause(ctx)
				return ctx.Err()
			}
			return nil
		})
		if err != nil || out.Deployment.Name != "fast" || !out.Hedged || out.Attempts != 2 {
			t.Fatalf("got %+v, %v; want fast, hedged, 2 attempts", out, err)
		}
		if cause := <-loserCause; !errors.Is(cause, errLostRace) {
			t.Errorf("loser's context ended with %v, want errLostRace", cause)
		}
		if st := r.Status()[0]; st.Breaker != "closed" || st.LastError != "" {
			t.Errorf("losing a hedge counted against the slow deployment: %+v", st)
		}
	})
	t.Run("streams are not hedged", func(t *testing.T) {
		r := mustRouter(t, deps, pools, Options{})
		var calls atomic.Int32
		out, err := r.Do(context.Background(), "m", Requirements{Stream: true}, func(ctx context.Context, d *Deployment) error {
			calls.Add(1)
			time.Sleep(20 * time.Millisecond) // slower than the hedge delay
			return nil
		})
		if err != nil || out.Hedged || out.Attempts != 1 || calls.Load() != 1 {
			t.Fatalf("got %+v, %v after %d calls; want one unhedged attempt", out, err, calls.Load())
		}
		out.Deployment.ObserveStream(time.Millisecond, time.Second, 10, nil)
	})
	t.Run("fast first answer starts no hedge", func(t *testing.T) {
		r := mustRouter(t, deps, pools, Options{})
		out, err := r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { return nil })
		if err != nil || out.Hedged || out.Attempts != 1 || out.Deployment.Name != "slow" {
			t.Fatalf("got %+v, %v", out, err)
		}
	})
}

func TestDoStreamAccounting(t *testing.T) {
	clk := newFakeClock()
	r := mustRouter(t, []*Deployment{{Name: "a"}}, []PoolConfig{{Alias: "m", Deployments: []string{"a"}}}, Options{Clock: clk})
	out, err := r.Do(context.Background(), "m", Requirements{Stream: true}, func(context.Context, *Deployment) error {
		clk.Advance(300 * time.Millisecond)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Status()[0]; st.InFlight != 1 || st.TTFTMillis != 0 {
		t.Fatalf("after the first byte: in flight %d, ttft %v; want the open stream counted and no latency yet", st.InFlight, st.TTFTMillis)
	}
	out.Deployment.ObserveStream(300*time.Millisecond, 2*time.Second, 50, nil)
	out.Deployment.ObserveUsage(50, llm.RateLimit{RemainingRequests: 99, RemainingTokens: 5000})
	st := r.Status()[0]
	if st.InFlight != 0 || st.TTFTMillis != 300 || st.TotalMillis != 2000 || st.TokensThisMinute != 50 ||
		st.RequestsThisMinute != 1 || st.RemainingRequests != 99 || st.RemainingTokens != 5000 {
		t.Fatalf("after the stream ended: %+v", st)
	}
	// A stream cut short by the provider counts against the deployment;
	// one the client abandoned does not.
	out.Deployment.ObserveStream(0, 0, 0, context.Canceled)
	if st := r.Status()[0]; st.LastError != "" {
		t.Errorf("client cancel recorded as an error: %q", st.LastError)
	}
	out.Deployment.ObserveStream(0, 0, 0, unavailable())
	if st := r.Status()[0]; !strings.Contains(st.LastError, "overloaded") || st.InFlight != 0 {
		t.Errorf("upstream failure not recorded (or in-flight went negative): %+v", st)
	}
}

func TestDoQuotaSteering(t *testing.T) {
	t.Run("requests per minute", func(t *testing.T) {
		clk := newFakeClock()
		deps := []*Deployment{{Name: "a", Quota: Quota{RPM: 100}}, {Name: "b", Priority: 1}}
		r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Deployments: []string{"a", "b"}}}, Options{Clock: clk})
		count := map[string]int{}
		for range 120 {
			out, err := r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			count[out.Deployment.Name]++
		}
		if count["a"] != 95 || count["b"] != 25 {
			t.Fatalf("got %v, want a to take 95%% of its 100 RPM and b the rest", count)
		}
		clk.Advance(time.Minute)
		if out, _ := r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { return nil }); out.Deployment.Name != "a" {
			t.Errorf("next minute went to %s, want a again", out.Deployment.Name)
		}
	})
	t.Run("provider remaining tokens", func(t *testing.T) {
		clk := newFakeClock()
		deps := []*Deployment{{Name: "a"}, {Name: "b", Priority: 1}}
		r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Deployments: []string{"a", "b"}}}, Options{Clock: clk})
		deps[0].ObserveUsage(10, llm.RateLimit{RemainingRequests: 50, RemainingTokens: 800})
		req := Requirements{EstimatedInputTokens: 1000, MaxOutputTokens: 100}
		ok := func(context.Context, *Deployment) error { return nil }
		if out, _ := r.Do(context.Background(), "m", req, ok); out.Deployment.Name != "b" {
			t.Fatalf("went to %s with 800 tokens left for a 1100-token request, want b", out.Deployment.Name)
		}
		if out, _ := r.Do(context.Background(), "m", Requirements{EstimatedInputTokens: 100, MaxOutputTokens: 100}, ok); out.Deployment.Name != "a" {
			t.Fatalf("a small request went to %s, want a", out.Deployment.Name)
		}
		clk.Advance(rateLimitTTL)
		if out, _ := r.Do(context.Background(), "m", req, ok); out.Deployment.Name != "a" {
			t.Fatalf("after the provider's numbers went stale, went to %s, want a", out.Deployment.Name)
		}
	})
}

func TestDoStrategies(t *testing.T) {
	ok := func(context.Context, *Deployment) error { return nil }
	t.Run("weighted shares by weight", func(t *testing.T) {
		r := mustRouter(t, []*Deployment{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}},
			[]PoolConfig{{Alias: "m", Strategy: StrategyWeighted, Deployments: []string{"a", "b"}}}, Options{Clock: newFakeClock(), Rand: newSource(9)})
		n := 0
		for range 4000 {
			if out, _ := r.Do(context.Background(), "m", Requirements{}, ok); out.Deployment.Name == "a" {
				n++
			}
		}
		if share := float64(n) / 4000; share < 0.70 || share > 0.80 {
			t.Errorf("a got %.2f of traffic, want about 0.75", share)
		}
	})
	t.Run("cost prefers reserved then cheapest, spills on saturation and 429", func(t *testing.T) {
		clk := newFakeClock()
		deps := []*Deployment{
			{Name: "ptu", Reserved: true, Quota: Quota{RPM: 10}, Price: Price{InputPerMTok: 5, OutputPerMTok: 15}},
			{Name: "cheap", Price: Price{InputPerMTok: 1, OutputPerMTok: 2}},
			{Name: "dear", Price: Price{InputPerMTok: 3, OutputPerMTok: 6}},
		}
		var committed atomic.Bool
		costs := func(d *Deployment, in, out int) float64 {
			if d.Name == "dear" && committed.Load() {
				return 0 // a prepaid commitment not yet used up
			}
			return listPrice(d, in, out)
		}
		r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Strategy: StrategyCost, Deployments: []string{"cheap", "dear", "ptu"}}}, Options{Clock: clk, CostFunc: costs})
		count := map[string]int{}
		for range 12 {
			out, _ := r.Do(context.Background(), "m", Requirements{}, ok)
			count[out.Deployment.Name]++
		}
		if count["ptu"] != 10 || count["cheap"] != 2 {
			t.Fatalf("got %v, want the reserved deployment until 95%% of its quota, then the cheapest", count)
		}
		committed.Store(true)
		if out, _ := r.Do(context.Background(), "m", Requirements{}, ok); out.Deployment.Name != "dear" {
			t.Errorf("CostFunc made dear free, but %s was chosen", out.Deployment.Name)
		}
		clk.Advance(time.Minute)
		out, err := r.Do(context.Background(), "m", Requirements{}, func(_ context.Context, d *Deployment) error {
			if d.Reserved {
				return throttled(10 * time.Second)
			}
			return nil
		})
		if err != nil || out.Deployment.Name != "dear" || out.Attempts != 2 {
			t.Fatalf("reserved 429: got %+v %v, want spill to pay-as-you-go", out, err)
		}
		if out, _ := r.Do(context.Background(), "m", Requirements{}, ok); out.Deployment.Reserved {
			t.Errorf("reserved deployment used again during its Retry-After")
		}
	})
	t.Run("least-busy avoids deployments with requests in flight", func(t *testing.T) {
		deps := []*Deployment{{Name: "a", Quota: Quota{RPM: 100}}, {Name: "b", Quota: Quota{RPM: 1000}}, {Name: "c", Quota: Quota{RPM: 100}}}
		r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Strategy: StrategyLeastBusy, Deployments: []string{"a", "b", "c"}}}, Options{Clock: newFakeClock()})
		deps[0].st.inflight.Store(2) // 0.02 of quota
		deps[1].st.inflight.Store(5) // 0.005
		deps[2].st.inflight.Store(1) // 0.01
		out, _ := r.Do(context.Background(), "m", Requirements{}, ok)
		if out.Deployment.Name != "b" {
			t.Errorf("chose %s, want b (fewest in flight relative to quota)", out.Deployment.Name)
		}
	})
	t.Run("per-request override", func(t *testing.T) {
		deps := []*Deployment{{Name: "dear", Price: Price{InputPerMTok: 9, OutputPerMTok: 9}}, {Name: "cheap", Priority: 1, Price: Price{InputPerMTok: 1, OutputPerMTok: 1}}}
		r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Deployments: []string{"dear", "cheap"}}}, Options{Clock: newFakeClock()})
		if out, _ := r.Do(context.Background(), "m", Requirements{Strategy: StrategyCost}, ok); out.Deployment.Name != "cheap" {
			t.Errorf("cost override chose %s", out.Deployment.Name)
		}
		_, err := r.Do(context.Background(), "m", Requirements{Strategy: "fastest"}, ok)
		le := asLLM(t, err)
		if le.Status != 400 || le.Code != "unknown_strategy" || !strings.Contains(le.Message, "least-busy") {
			t.Errorf("unknown strategy: %v", le)
		}
	})
}
