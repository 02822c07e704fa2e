package app_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/audit"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

// TestConcurrentCallsCannotOverspend sends 200 concurrent calls against a
// hard budget with room for a few: on one gateway (SQLite, memory
// counters) and on two gateways sharing PostgreSQL and Redis. Every call
// reserves its maximum cost before it runs, so the settled spend never
// passes the limit, and every refusal is a budget_exceeded 429.
func TestConcurrentCallsCannotOverspend(t *testing.T) {
	tests := []struct {
		name     string
		replicas int
		shared   bool
	}{
		{"one gateway sqlite memory", 1, false},
		{"two gateways postgres redis", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setup := govSetup{dsn: storetest.SQLiteDSN(t)}
			var pub []byte
			if tt.shared {
				setup.dsn = storetest.PostgresDSN(t)
				setup.redisURL, setup.prefix = redisURL(t)
				setup.keyFile, pub = newKeyFile(t)
			}
			ids := seedStore(t, setup.dsn, []seedKey{{secret: budgetKey}})
			// Room for exactly 9 reservations of 523 micro-USD; they settle
			// at 225, so later calls fit too until spend nears the limit.
			const limit = 5000
			seedBudget(t, setup.dsn, store.Budget{ID: "bud_team", Scope: store.ScopeTeam, ScopeID: "t1", Period: store.PeriodMonth, LimitMicroUSD: limit, Mode: store.ModeHard})
			f := newFleet(t)
			var gws []*govEnv
			for range tt.replicas {
				gws = append(gws, startGov(t, f, setup))
			}
			var ok, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status, _, body := gws[i%len(gws)].do(http.MethodPost, "/v1/chat/completions", budgetKey, govChat)
					switch {
					case status == 200:
						ok.Add(1)
					case status == 429 && strings.Contains(body, "budget_exceeded") && strings.Contains(body, "bud_team"):
						refused.Add(1)
					default:
						t.Errorf("status %d: %s", status, body)
					}
				}()
			}
			wg.Wait()
			ctx := context.Background()
			for _, g := range gws {
				if err := app.GovernanceOf(g.gw).Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			st := openStore(t, setup.dsn)
			spent, err := st.Spend(ctx, store.ScopeTeam, "t1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d served, %d refused, spent %d of %d", ok.Load(), refused.Load(), spent, limit)
			if spent > limit {
				t.Errorf("spent %d micro-USD past the %d limit", spent, limit)
			}
			if spent != ok.Load()*callCost || ok.Load() < 9 || ok.Load()+refused.Load() != 200 {
				t.Errorf("served %d (spent %d), refused %d", ok.Load(), spent, refused.Load())
			}
			// Exactly one usage row per call.
			groups, _ := st.SumUsage(ctx, store.UsageQuery{GroupBy: store.GroupByKey, KeyID: ids[budgetKey], From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
			if len(groups) != 1 || groups[0].Requests != 200 {
				t.Errorf("usage groups %+v", groups)
			}
			if tt.shared {
				rep, err := audit.Verify(ctx, st, pub)
				if err != nil || !rep.OK() || rep.Records < 200 {
					t.Errorf("shared chain: %+v %v", rep, err)
				}
			}
		})
	}
}

// TestRateLimitAcrossReplicas checks that two gateways sharing Redis
// enforce one key's RPM together, not each on its own.
func TestRateLimitAcrossReplicas(t *testing.T) {
	setup := govSetup{dsn: storetest.PostgresDSN(t)}
	setup.redisURL, setup.prefix = redisURL(t)
	setup.keyFile, _ = newKeyFile(t)
	seedStore(t, setup.dsn, []seedKey{{secret: rlKey, rpm: 10}})
	f := newFleet(t)
	a, b := startGov(t, f, setup), startGov(t, f, setup)
	for i := range 10 {
		g := []*govEnv{a, b}[i%2]
		status, hdr, body := g.do(http.MethodPost, "/v1/chat/completions", rlKey, govChat)
		if status != 200 {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
		if want := 9 - i; hdr.Get("X-Ratelimit-Remaining-Requests") != strconv.Itoa(want) {
			t.Errorf("call %d on replica %d: remaining %q, want %d", i, i%2, hdr.Get("X-Ratelimit-Remaining-Requests"), want)
		}
	}
	for _, g := range []*govEnv{a, b} {
		status, hdr, body := g.do(http.MethodPost, "/v1/chat/completions", rlKey, govChat)
		if status != 429 || !strings.Contains(body, "rate_limit_exceeded") || hdr.Get("Retry-After") == "" {
			t.Errorf("over the shared limit: %d %s", status, body)
		}
	}
}

// TestLeasesAcrossReplicas: two gateways sharing Redis decide most calls
// on their own leases, say so in /metrics, and still share the limit.
func TestLeasesAcrossReplicas(t *testing.T) {
	setup := govSetup{}
	setup.redisURL, setup.prefix = redisURL(t)
	setup.dsn = storetest.PostgresDSN(t)
	setup.keyFile, _ = newKeyFile(t)
	// 1200 rpm: a lease is a second's refill, 20 calls.
	seedStore(t, setup.dsn, []seedKey{{secret: rlKey, rpm: 1200}})
	seedBudget(t, setup.dsn, store.Budget{ID: "bud_big", Scope: store.ScopeTeam, ScopeID: "t1", Period: store.PeriodMonth, LimitMicroUSD: 1e9, Mode: store.ModeHard})
	f := newFleet(t)
	gws := []*govEnv{startGov(t, f, setup), startGov(t, f, setup)}
	for i := range 60 {
		status, hdr, body := gws[i%2].do(http.MethodPost, "/v1/chat/completions", rlKey, govChat)
		if status != 200 {
			t.Fatalf("call %d: %d %s", i, status, body)
		}
		// What a replica says is left counts its own calls, the other's
		// as of its last round trip, and no more than the other's lease
		// of 20 as used.
		left, err := strconv.Atoi(hdr.Get("X-Ratelimit-Remaining-Requests"))
		if err != nil || left > 1200-(i/2+1) || left < 1200-(i+1)-20 {
			t.Fatalf("call %d: remaining %q; want %d..%d", i, hdr.Get("X-Ratelimit-Remaining-Requests"), 1200-(i+1)-20, 1200-(i/2+1))
		}
	}
	for i, g := range gws {
		_, _, metrics := g.do(http.MethodGet, "/metrics", "", "")
		value := func(counter, where string) int {
			prefix := `switchyard_counters_decisions_total{counter="` + counter + `",where="` + where + `"} `
			for _, line := range strings.Split(metrics, "\n") {
				if v, ok := strings.CutPrefix(line, prefix); ok {
					n := 0
					for _, c := range v {
						n = n*10 + int(c-'0')
					}
					return n
				}
			}
			t.Fatalf("replica %d: no %s in /metrics", i, prefix)
			return 0
		}
		rlLease, rlRedis := value("rate_limit", "lease"), value("rate_limit", "redis")
		budLease, budRedis := value("budget", "lease"), value("budget", "redis")
		t.Logf("replica %d: rate limit %d on leases, %d by Redis; budget %d and %d", i, rlLease, rlRedis, budLease, budRedis)
		// 30 calls each: a round trip takes a lease of 20, which covers
		// the next 20.
		if rlLease+rlRedis != 30 || rlLease < 20 || budLease+budRedis != 30 || budLease < 20 {
			t.Errorf("replica %d: rate limit %d leased + %d by Redis, budget %d + %d; want 30 each, mostly leased",
				i, rlLease, rlRedis, budLease, budRedis)
		}
	}
}
