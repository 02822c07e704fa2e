package route

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// Chaos scenarios: simulated deployments misbehave behind a fake clock
// and Do must keep clients from noticing (or refuse exactly as promised).

func chaosBreaker() BreakerConfig {
	return BreakerConfig{FailureThreshold: 3, OpenFor: time.Second, MaxOpenFor: 4 * time.Second}
}

func TestChaosOneOfTwoDown(t *testing.T) {
	for _, strategy := range Strategies {
		t.Run(strategy, func(t *testing.T) {
			clk := newFakeClock()
			ev := &events{}
			f := newFleet(clk, map[string]behaviour{"dead": down(), "alive": healthy(20 * time.Millisecond)})
			deps := []*Deployment{
				{Name: "dead", Region: "us-east-1", Priority: 0},
				{Name: "alive", Region: "us-west-2", Priority: 1},
			}
			r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Strategy: strategy, Deployments: []string{"dead", "alive"}, Breaker: chaosBreaker()}},
				Options{Clock: clk, Rand: newSource(1), OnBreakerChange: ev.record})
			for i := range 1000 {
				out, err := r.Do(context.Background(), "m", Requirements{}, f.attempt)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if out.Deployment.Name != "alive" {
					t.Fatalf("request %d answered by %s", i, out.Deployment.Name)
				}
			}
			halfOpens := ev.count("dead", BreakerHalfOpen)
			trials, beforeOpen := 0, 0
			for i, st := range f.seen["dead"] {
				switch st {
				case BreakerOpen:
					t.Fatalf("attempt %d on the dead deployment went through an open breaker", i)
				case BreakerHalfOpen:
					trials++
				default:
					beforeOpen++
				}
			}
			if trials != halfOpens {
				t.Errorf("dead deployment got %d attempts while half-open, want exactly one per half-open period (%d)", trials, halfOpens)
			}
			if beforeOpen > 3 {
				t.Errorf("dead deployment got %d attempts before its breaker opened, want at most the failure threshold 3", beforeOpen)
			}
			if ev.count("dead", BreakerOpen) == 0 {
				t.Error("the dead deployment's breaker never opened")
			}
		})
	}
}

func TestChaosOneOfTwoDownConcurrent(t *testing.T) {
	clk := newFakeClock()
	ev := &events{}
	f := newFleet(clk, map[string]behaviour{"dead": down(), "alive": healthy(time.Millisecond)})
	deps := []*Deployment{{Name: "dead"}, {Name: "alive"}}
	r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Strategy: StrategyWeighted, Deployments: []string{"dead", "alive"}, Breaker: chaosBreaker()}},
		Options{Clock: clk, OnBreakerChange: ev.record})
	const workers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range workers {
		wg.Go(func() {
			for range 1000 / workers {
				if _, err := r.Do(context.Background(), "m", Requirements{}, f.attempt); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d requests failed, first: %v", len(errs), errs[0])
	}
	// Requests admitted just before the breaker opened may still land;
	// after that only half-open trials do.
	limit := 3 + workers + ev.count("dead", BreakerHalfOpen)
	if got := f.count(f.attempts, "dead"); got > limit {
		t.Errorf("dead deployment got %d attempts, want at most %d", got, limit)
	}
}

func TestChaosThrottledHalfTheTime(t *testing.T) {
	for _, strategy := range Strategies {
		t.Run(strategy, func(t *testing.T) {
			clk := newFakeClock()
			coin := rand.New(rand.NewPCG(7, 7))
			f := newFleet(clk, map[string]behaviour{
				"throttled": func(int) (time.Duration, error) {
					if coin.IntN(2) == 0 {
						return 5 * time.Millisecond, throttled(2 * time.Second)
					}
					return 20 * time.Millisecond, nil
				},
				"steady": healthy(20 * time.Millisecond),
			})
			deps := []*Deployment{
				{Name: "throttled", Priority: 0, Price: Price{InputPerMTok: 1, OutputPerMTok: 1}},
				{Name: "steady", Priority: 0, Price: Price{InputPerMTok: 2, OutputPerMTok: 2}},
			}
			r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Strategy: strategy, Deployments: []string{"throttled", "steady"}}},
				Options{Clock: clk, Rand: newSource(2)})
			const n = 1000
			for i := range n {
				if _, err := r.Do(context.Background(), "m", Requirements{}, f.attempt); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			// Without steering, an even split would give the throttled
			// deployment half the traffic and a quarter of the answers.
			share := float64(f.count(f.answered, "throttled")) / n
			if share > 0.10 {
				t.Errorf("throttled deployment answered %.1f%% of requests, want under 10%% (it asked clients to back off)", share*100)
			}
		})
	}
}

func TestChaosSlowRegionLatency(t *testing.T) {
	clk := newFakeClock()
	f := newFleet(clk, map[string]behaviour{"east": healthy(100 * time.Millisecond), "west": healthy(100 * time.Millisecond)})
	deps := []*Deployment{{Name: "east", Region: "us-east-1"}, {Name: "west", Region: "us-west-2"}}
	r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Strategy: StrategyLatency, Deployments: []string{"east", "west"}}},
		Options{Clock: clk, Rand: newSource(3)})

	// share runs traffic for d of simulated time and returns the share of
	// requests each deployment answered.
	share := func(d time.Duration) map[string]float64 {
		counts, total := map[string]int{}, 0
		for end := clk.Now().Add(d); clk.Now().Before(end); total++ {
			out, err := r.Do(context.Background(), "m", Requirements{}, f.attempt)
			if err != nil {
				t.Fatal(err)
			}
			counts[out.Deployment.Name]++
		}
		out := map[string]float64{}
		for k, v := range counts {
			out[k] = float64(v) / float64(total)
		}
		return out
	}
	share(5 * time.Second)

	f.set("west", healthy(400*time.Millisecond)) // 300 ms slower from now on
	share(10 * time.Second)
	if got := share(10 * time.Second); got["east"] < 0.90 {
		t.Errorf("10s after west slowed down, east has %.1f%% of traffic, want at least 90%%", got["east"]*100)
	}

	// West recovers and becomes the faster one: trial traffic notices.
	f.set("west", healthy(30*time.Millisecond))
	share(60 * time.Second)
	if got := share(10 * time.Second); got["west"] < 0.90 {
		t.Errorf("a minute after west became faster, it has %.1f%% of traffic, want at least 90%%", got["west"]*100)
	}
}

func TestChaosResidencyOnlyEUDeploymentDown(t *testing.T) {
	clk := newFakeClock()
	f := newFleet(clk, map[string]behaviour{"eu": down(), "us": healthy(10 * time.Millisecond)})
	deps := []*Deployment{
		{Name: "eu", Provider: "azure", Region: "westeurope", ZDR: true},
		{Name: "us", Provider: "openai", Region: "us-east-1"},
	}
	r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Strategy: StrategyWeighted, Deployments: []string{"eu", "us"}, Breaker: chaosBreaker()}},
		Options{Clock: clk, Rand: newSource(4)})

	tests := []struct {
		desc string
		req  Requirements
		want string // the restriction the message must name
	}{
		{desc: "region glob", req: Requirements{AllowedRegions: []string{"eu*", "europe-*", "westeurope"}}, want: "regions eu*, europe-*, westeurope"},
		{desc: "provider", req: Requirements{AllowedProviders: []string{"azure"}}, want: "providers azure"},
		{desc: "zero data retention", req: Requirements{RequireZDR: true}, want: "zero data retention"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for i := range 50 {
				_, err := r.Do(context.Background(), "m", tc.req, f.attempt)
				le := asLLM(t, err)
				if le.Status != http.StatusServiceUnavailable || le.Code != "no_healthy_deployment" {
					t.Fatalf("request %d: got %d %s, want 503 no_healthy_deployment", i, le.Status, le.Code)
				}
				for _, s := range []string{"has no healthy deployment", "none of the deployments allowed by your key (" + tc.want, "never used", "retry in"} {
					if !strings.Contains(le.Message, s) {
						t.Fatalf("request %d: message %q does not say %q", i, le.Message, s)
					}
				}
				if le.RetryAfter <= 0 {
					t.Fatalf("request %d: no Retry-After", i)
				}
			}
		})
	}
	if n := f.count(f.attempts, "us"); n != 0 {
		t.Fatalf("the non-EU deployment got %d attempts, want 0", n)
	}

	// With no EU deployment at all, it is a 403 and nothing is sent.
	t.Run("no allowed deployment exists", func(t *testing.T) {
		_, err := r.Do(context.Background(), "m", Requirements{AllowedRegions: []string{"ap-*"}}, f.attempt)
		le := asLLM(t, err)
		if le.Status != http.StatusForbidden || le.Code != "residency_violation" || le.Type != llm.TypePermission {
			t.Fatalf("got %d %s %s, want 403 permission_error residency_violation", le.Status, le.Type, le.Code)
		}
		for _, s := range []string{"regions ap-*", "no deployment", "not sent anywhere else"} {
			if !strings.Contains(le.Message, s) {
				t.Errorf("message %q does not say %q", le.Message, s)
			}
		}
		if n := f.count(f.attempts, "us"); n != 0 {
			t.Fatalf("the non-EU deployment got %d attempts, want 0", n)
		}
	})
}

func TestChaosPinnedVersionDown(t *testing.T) {
	clk := newFakeClock()
	f := newFleet(clk, map[string]behaviour{"new": down(), "old": healthy(10 * time.Millisecond)})
	deps := []*Deployment{
		{Name: "new", ModelVersion: "2025-08-07"},
		{Name: "old", ModelVersion: "2025-06-01"},
	}
	r := mustRouter(t, deps, []PoolConfig{{Alias: "gpt-5", Strategy: StrategyFailover, Deployments: []string{"new", "old"}, Breaker: chaosBreaker()}},
		Options{Clock: clk, Rand: newSource(5)})
	alias, version := ParseModel("gpt-5@2025-08-07")
	for i := range 100 {
		_, err := r.Do(context.Background(), alias, Requirements{PinnedVersion: version}, f.attempt)
		le := asLLM(t, err)
		if le.Status != http.StatusServiceUnavailable || le.Code != "no_healthy_deployment" {
			t.Fatalf("request %d: got %d %s, want 503 no_healthy_deployment", i, le.Status, le.Code)
		}
		for _, s := range []string{`version "2025-08-07" has no healthy deployment`, "never served by another version", `send "gpt-5"`} {
			if !strings.Contains(le.Message, s) {
				t.Fatalf("request %d: message %q does not say %q", i, le.Message, s)
			}
		}
	}
	if n := f.count(f.attempts, "old"); n != 0 {
		t.Fatalf("a pinned request reached another version %d times", n)
	}
	// Unpinned, the same alias is served by the other version.
	out, err := r.Do(context.Background(), alias, Requirements{}, f.attempt)
	if err != nil || out.Deployment.Name != "old" {
		t.Fatalf("unpinned request: %v, %v", out.Deployment, err)
	}
}

func TestChaosFlappingBreaker(t *testing.T) {
	clk := newFakeClock()
	ev := &events{}
	// Four failures, then four successes, over and over.
	f := newFleet(clk, map[string]behaviour{
		"flappy": func(n int) (time.Duration, error) {
			if n/4%2 == 0 {
				return 10 * time.Millisecond, unavailable()
			}
			return 10 * time.Millisecond, nil
		},
		"backup": healthy(10 * time.Millisecond),
	})
	cfg := BreakerConfig{FailureThreshold: 2, OpenFor: time.Second, MaxOpenFor: time.Second}
	deps := []*Deployment{{Name: "flappy", Priority: 0}, {Name: "backup", Priority: 1}}
	r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Strategy: StrategyFailover, Deployments: []string{"flappy", "backup"}, Breaker: cfg}},
		Options{Clock: clk, OnBreakerChange: ev.record})
	for range 5000 {
		if _, err := r.Do(context.Background(), "m", Requirements{}, f.attempt); err != nil {
			t.Fatal(err)
		}
	}
	list := ev.list("flappy")
	if n := ev.count("flappy", BreakerOpen); n < 5 {
		t.Fatalf("breaker opened %d times in %d transitions; the scenario should make it flap", n, len(list))
	}
	var lastOpen time.Time
	for i, e := range list {
		if e.To == BreakerHalfOpen && e.At.Sub(list[i-1].At) < cfg.OpenFor {
			t.Errorf("transition %d: half-open %v after opening, want at least %v", i, e.At.Sub(list[i-1].At), cfg.OpenFor)
		}
		if e.To != BreakerOpen {
			continue
		}
		if !lastOpen.IsZero() && e.At.Sub(lastOpen) < cfg.OpenFor {
			t.Errorf("transition %d: reopened %v after the previous opening, want at least %v", i, e.At.Sub(lastOpen), cfg.OpenFor)
		}
		lastOpen = e.At
	}
}

func TestChaosNonRetryableAndCancel(t *testing.T) {
	t.Run("400 returned at once", func(t *testing.T) {
		clk := newFakeClock()
		bad := llm.BadRequest("messages", "messages[0].role must be user, assistant, system or tool")
		f := newFleet(clk, map[string]behaviour{
			"a": func(int) (time.Duration, error) { return time.Millisecond, bad },
			"b": healthy(time.Millisecond),
		})
		r := mustRouter(t, []*Deployment{{Name: "a"}, {Name: "b", Priority: 1}}, []PoolConfig{{Alias: "m", Deployments: []string{"a", "b"}}}, Options{Clock: clk})
		out, err := r.Do(context.Background(), "m", Requirements{}, f.attempt)
		if !errors.Is(err, bad) {
			t.Fatalf("got %v, want the 400 unchanged", err)
		}
		if out.Attempts != 1 || f.count(f.attempts, "b") != 0 {
			t.Fatalf("attempts %d (b: %d), want 1 and none on b", out.Attempts, f.count(f.attempts, "b"))
		}
		if got := r.Status()[0].Breaker; got != "closed" {
			t.Errorf("a request's own 400 changed the breaker to %s", got)
		}
	})
	t.Run("caller cancel during attempt", func(t *testing.T) {
		clk := newFakeClock()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		r := mustRouter(t, []*Deployment{{Name: "a"}, {Name: "b"}}, []PoolConfig{{Alias: "m", Deployments: []string{"a", "b"}}}, Options{Clock: clk})
		out, err := r.Do(ctx, "m", Requirements{}, func(context.Context, *Deployment) error {
			calls++
			cancel()
			return unavailable()
		})
		if !errors.Is(err, context.Canceled) || calls != 1 || out.Attempts != 1 {
			t.Fatalf("got %v after %d calls, want context.Canceled after 1", err, calls)
		}
	})
	t.Run("caller cancel during backoff", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		calls := 0
		r := mustRouter(t, []*Deployment{{Name: "a"}}, []PoolConfig{{Alias: "m", Deployments: []string{"a"},
			Retry: RetryConfig{BaseBackoff: time.Hour, MaxBackoff: time.Hour, Deadline: 3 * time.Hour}}}, Options{})
		out, err := r.Do(ctx, "m", Requirements{}, func(context.Context, *Deployment) error {
			calls++
			time.AfterFunc(time.Millisecond, cancel)
			return unavailable()
		})
		if !errors.Is(err, context.Canceled) || calls != 1 || out.Attempts != 1 {
			t.Fatalf("got %v after %d calls, want context.Canceled after 1", err, calls)
		}
	})
}
