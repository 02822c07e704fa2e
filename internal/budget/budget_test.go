package budget

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 31, 22, 0, 0, 0, time.UTC)

func TestBudgetWindow(t *testing.T) {
	t.Parallel()
	ws, we := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		b          Budget
		now        time.Time
		start, end time.Time
		ok         bool
	}{
		{"day", Budget{Period: PeriodDay}, t0, time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), true},
		{"day in another zone is UTC", Budget{Period: PeriodDay}, time.Date(2025, 4, 1, 1, 0, 0, 0, time.FixedZone("x", 3*3600)), time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), true},
		{"month", Budget{Period: PeriodMonth}, t0, time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), true},
		{"month of december", Budget{Period: PeriodMonth}, time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"inside window", Budget{Period: PeriodWindow, WindowStart: ws, WindowEnd: we}, ws, ws, we, true},
		{"window end is exclusive", Budget{Period: PeriodWindow, WindowStart: ws, WindowEnd: we}, we, time.Time{}, time.Time{}, false},
		{"before window", Budget{Period: PeriodWindow, WindowStart: ws, WindowEnd: we}, ws.Add(-1), time.Time{}, time.Time{}, false},
		{"unknown period", Budget{Period: "week"}, t0, time.Time{}, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, e, ok := tt.b.Window(tt.now)
			if ok != tt.ok || !s.Equal(tt.start) || !e.Equal(tt.end) {
				t.Fatalf("Window = %v, %v, %v; want %v, %v, %v", s, e, ok, tt.start, tt.end, tt.ok)
			}
		})
	}
}

func TestBudgetValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		b       Budget
		wantErr string
	}{
		{"ok", Budget{ID: "b", Period: PeriodDay, Mode: ModeHard, Limit: 1}, ""},
		{"no id", Budget{Period: PeriodDay, Mode: ModeHard}, "needs an id"},
		{"bad mode", Budget{ID: "b", Period: PeriodDay, Mode: "x"}, "must be soft or hard"},
		{"bad period", Budget{ID: "b", Period: "week", Mode: ModeSoft}, "must be day, month or window"},
		{"empty window", Budget{ID: "b", Period: PeriodWindow, Mode: ModeSoft}, "window_start before window_end"},
		{"negative", Budget{ID: "b", Period: PeriodDay, Mode: ModeSoft, Limit: -1}, "limit must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.b.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v; want containing %q", err, tt.wantErr)
			}
		})
	}
}

// backend makes Stores that share state, like replicas sharing one Redis.
type backend struct {
	name     string
	newStore func(t *testing.T) func() Store
}

func backends() []backend {
	return []backend{
		{"memory", func(*testing.T) func() Store {
			s := NewMemoryStore()
			return func() Store { return s }
		}},
		{"redis", func(t *testing.T) func() Store {
			rdb, prefix := testRedis(t)
			return func() Store { return NewRedisStore(rdb, RedisOptions{Prefix: prefix}) }
		}},
	}
}

var (
	keyA  = Scope{ScopeKey, "k1"}
	teamA = Scope{ScopeTeam, "t1"}
)

func newTestManager(t *testing.T, store Store, src Source, clock *fakeClock, mut ...func(*Options)) *Manager {
	t.Helper()
	o := Options{Source: src, Store: store, Now: clock.Now, ReservationTTL: time.Minute}
	for _, f := range mut {
		f(&o)
	}
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func usage(t *testing.T, m *Manager, scope Scope) (spent, reserved int64) {
	t.Helper()
	st, err := m.Status(context.Background(), []Scope{scope})
	if err != nil || len(st) != 1 {
		t.Fatalf("Status = %v, %v", st, err)
	}
	return st[0].Spent, st[0].Reserved
}

func TestReserveSettle(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			src := StaticSource{
				{ID: "key-day", Scope: keyA, Period: PeriodDay, Limit: 10_000, Mode: ModeHard},
				{ID: "team-month", Scope: teamA, Period: PeriodMonth, Limit: 3_000, Mode: ModeHard},
			}
			m := newTestManager(t, be.newStore(t)(), src, newClock(t0))
			scopes := []Scope{keyA, teamA}

			r, err := m.Reserve(ctx, scopes, 2_000)
			if err != nil {
				t.Fatal(err)
			}
			if s, res := usage(t, m, teamA); s != 0 || res != 2_000 {
				t.Fatalf("after reserve: spent %d reserved %d; want 0, 2000", s, res)
			}
			// The team budget has 1000 left: all or nothing, so the key
			// budget must not keep a reservation either.
			_, err = m.Reserve(ctx, scopes, 1_500)
			var ex *ExceededError
			if !errors.As(err, &ex) {
				t.Fatalf("Reserve over team limit: err = %v; want *ExceededError", err)
			}
			if ex.BudgetID != "team-month" || ex.Scope != teamA || ex.Limit != 3_000 || ex.Reserved != 2_000 || ex.Spent != 0 || ex.Requested != 1_500 {
				t.Fatalf("ExceededError = %+v", ex)
			}
			if _, res := usage(t, m, keyA); res != 2_000 {
				t.Fatalf("key reserved %d after refused reserve; want 2000 (all or nothing)", res)
			}
			if err := m.Settle(ctx, r, 1_200); err != nil {
				t.Fatal(err)
			}
			for _, sc := range scopes {
				if s, res := usage(t, m, sc); s != 1_200 || res != 0 {
					t.Fatalf("%v after settle: spent %d reserved %d; want 1200, 0", sc, s, res)
				}
			}
			r2, err := m.Reserve(ctx, scopes, 1_800)
			if err != nil {
				t.Fatalf("reserve exactly up to the limit: %v", err)
			}
			if err := m.Release(ctx, r2); err != nil {
				t.Fatal(err)
			}
			if s, res := usage(t, m, teamA); s != 1_200 || res != 0 {
				t.Fatalf("after release: spent %d reserved %d; want 1200, 0", s, res)
			}
		})
	}
}

func TestExceededErrorRendering(t *testing.T) {
	t.Parallel()
	src := StaticSource{{ID: "b1", Scope: teamA, Period: PeriodMonth, Limit: 1_000_000, Mode: ModeHard}}
	m := newTestManager(t, NewMemoryStore(), src, newClock(t0))
	_, err := m.Reserve(context.Background(), []Scope{teamA}, 2_500_000)
	var ex *ExceededError
	if !errors.As(err, &ex) {
		t.Fatalf("err = %v; want *ExceededError", err)
	}
	le := ex.LLMError()
	if le.Status != http.StatusTooManyRequests || le.Code != CodeBudgetExceeded || le.Type != "rate_limit_error" {
		t.Fatalf("LLMError = %+v; want 429 rate_limit_error budget_exceeded", le)
	}
	if le.RetryAfter != 2*time.Hour {
		t.Fatalf("RetryAfter = %v; want 2h (until the month ends)", le.RetryAfter)
	}
	for _, want := range []string{"budget b1", "team t1", "$1.00 limit", "up to $2.50", "raise the budget", "lower max_tokens", "2025-04-01T00:00:00Z"} {
		if !strings.Contains(le.Message, want) {
			t.Errorf("message %q lacks %q", le.Message, want)
		}
	}
}

func TestPeriodRollover(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := newClock(t0)
			src := StaticSource{{ID: "daily", Scope: keyA, Period: PeriodDay, Limit: 1_000, Mode: ModeHard}}
			m := newTestManager(t, be.newStore(t)(), src, clock)
			r, err := m.Reserve(ctx, []Scope{keyA}, 1_000)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Settle(ctx, r, 1_000); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Reserve(ctx, []Scope{keyA}, 1); err == nil {
				t.Fatal("reserve on a spent budget succeeded")
			}
			clock.Add(2 * time.Hour) // 2025-04-01 00:00 UTC: a new day.
			r, err = m.Reserve(ctx, []Scope{keyA}, 1_000)
			if err != nil {
				t.Fatalf("reserve after rollover: %v", err)
			}
			if s, res := usage(t, m, keyA); s != 0 || res != 1_000 {
				t.Fatalf("new period: spent %d reserved %d; want 0, 1000", s, res)
			}
			_ = m.Release(ctx, r)
		})
	}
}

func TestSettleUnknownOrExpired(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := newClock(t0)
			src := StaticSource{{ID: "b", Scope: keyA, Period: PeriodMonth, Limit: 1_000, Mode: ModeHard}}
			m := newTestManager(t, be.newStore(t)(), src, clock)
			if err := m.Settle(ctx, nil, 5); err != nil {
				t.Fatalf("Settle(nil) = %v", err)
			}
			if err := m.Release(ctx, nil); err != nil {
				t.Fatalf("Release(nil) = %v", err)
			}
			stale, err := m.Reserve(ctx, []Scope{keyA}, 900)
			if err != nil {
				t.Fatal(err)
			}
			// The replica holding stale "crashes"; after the TTL its
			// reservation stops holding budget.
			clock.Add(2 * time.Minute)
			fresh, err := m.Reserve(ctx, []Scope{keyA}, 800)
			if err != nil {
				t.Fatalf("expired reservation still holds budget: %v", err)
			}
			if _, res := usage(t, m, keyA); res != 800 {
				t.Fatalf("reserved %d; want 800 (expired 900 purged)", res)
			}
			// Settling the expired one records its cost but does not touch
			// the fresh reservation.
			if err := m.Settle(ctx, stale, 100); err != nil {
				t.Fatal(err)
			}
			if err := m.Settle(ctx, stale, 100); err != nil {
				t.Fatal(err)
			}
			if s, res := usage(t, m, keyA); s != 100 || res != 800 {
				t.Fatalf("after settling expired twice: spent %d reserved %d; want 100, 800", s, res)
			}
			if err := m.Settle(ctx, fresh, 50); err != nil {
				t.Fatal(err)
			}
			if err := m.Release(ctx, fresh); err != nil {
				t.Fatal(err)
			}
			if s, res := usage(t, m, keyA); s != 150 || res != 0 {
				t.Fatalf("final: spent %d reserved %d; want 150, 0", s, res)
			}
		})
	}
}

type alertSink struct {
	mu     sync.Mutex
	alerts []Alert
}

func (s *alertSink) server(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad alert", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.alerts = append(s.alerts, a)
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSoftBudgetAlertsOncePerPeriod(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			sink := &alertSink{}
			srv := sink.server(t)
			clock := newClock(t0)
			src := StaticSource{{ID: "soft", Scope: teamA, Period: PeriodDay, Limit: 1_000, Mode: ModeSoft, AlertWebhook: srv.URL}}
			stores := be.newStore(t)
			notifier := NewWebhookNotifier(WebhookOptions{Client: srv.Client(), Timeout: 5 * time.Second})
			withNotifier := func(o *Options) { o.Notifier = notifier }
			// Two replicas: the alert must still go out once.
			m1 := newTestManager(t, stores(), src, clock, withNotifier)
			m2 := newTestManager(t, stores(), src, clock, withNotifier)
			spend := func(m *Manager, cost int64) {
				t.Helper()
				r, err := m.Reserve(ctx, []Scope{teamA}, 5_000)
				if err != nil {
					t.Fatalf("a soft budget refused a request: %v", err)
				}
				if err := m.Settle(ctx, r, cost); err != nil {
					t.Fatal(err)
				}
			}
			spend(m1, 600)
			spend(m2, 600) // crosses 1000
			spend(m1, 600)
			spend(m2, 600)
			clock.Add(3 * time.Hour) // next day
			spend(m1, 999)
			spend(m2, 1) // crosses again, in the new period
			m1.Close()
			m2.Close()
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if len(sink.alerts) != 2 {
				t.Fatalf("got %d alerts %+v; want 2 (one per period)", len(sink.alerts), sink.alerts)
			}
			first, second := sink.alerts[0], sink.alerts[1]
			if first.BudgetID != "soft" || first.SpentMicroUSD != 1_200 || first.LimitMicroUSD != 1_000 || first.Scope != ScopeTeam || first.ScopeID != "t1" {
				t.Fatalf("first alert = %+v", first)
			}
			if !second.PeriodStart.Equal(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)) || second.SpentMicroUSD != 1_000 {
				t.Fatalf("second alert = %+v; want period 2025-04-01, spent 1000", second)
			}
		})
	}
}

func TestWebhookNotifierErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer srv.Close()
	n := NewWebhookNotifier(WebhookOptions{DefaultURL: srv.URL, Client: srv.Client()})
	err := n.Notify(context.Background(), Alert{BudgetID: "b"})
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("Notify = %v; want an error naming the 500", err)
	}
	if err := NewWebhookNotifier(WebhookOptions{}).Notify(context.Background(), Alert{}); err != nil {
		t.Fatalf("Notify without any URL = %v; want nil (nothing to send)", err)
	}
}

type fixedSpend struct{ calls atomic.Int32 }

func (f *fixedSpend) Spent(_ context.Context, b Budget, from, to time.Time) (int64, error) {
	f.calls.Add(1)
	return 700, nil
}

func TestSeedAndReconcile(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			clock := newClock(t0)
			src := StaticSource{{ID: "b", Scope: keyA, Period: PeriodMonth, Limit: 1_000, Mode: ModeHard}}
			stores := be.newStore(t)
			spend := &fixedSpend{}
			withSpend := func(o *Options) { o.Spend = spend }
			m1 := newTestManager(t, stores(), src, clock, withSpend)
			m2 := newTestManager(t, stores(), src, clock, withSpend)
			if _, err := m1.Reserve(ctx, []Scope{keyA}, 400); err == nil {
				t.Fatal("reserve ignored the 700 already spent durably")
			}
			r, err := m2.Reserve(ctx, []Scope{keyA}, 300)
			if err != nil {
				t.Fatal(err)
			}
			_ = m2.Release(ctx, r)
			if s, _ := usage(t, m1, keyA); s != 700 {
				t.Fatalf("spent %d after two replicas seeded; want 700 (seeded once)", s)
			}
			if err := m1.Reconcile(ctx, "b", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), 100); err != nil {
				t.Fatal(err)
			}
			if s, _ := usage(t, m2, keyA); s != 100 {
				t.Fatalf("spent %d after Reconcile; want 100", s)
			}
			if spend.calls.Load() != 2 {
				t.Fatalf("SpendSource called %d times; want once per replica", spend.calls.Load())
			}
		})
	}
}

// slowSpend is a SpendSource whose query takes a while, like a sum over a
// busy day's usage rows.
type slowSpend struct {
	fixedSpend
	release chan struct{}
}

func (s *slowSpend) Spent(ctx context.Context, b Budget, from, to time.Time) (int64, error) {
	<-s.release
	return s.fixedSpend.Spent(ctx, b, from, to)
}

// TestSeedOncePerPeriod: requests that all arrive before the first seed
// finished share its one query, and a caller that gives up does not fail
// the others.
func TestSeedOncePerPeriod(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			src := StaticSource{{ID: "b", Scope: keyA, Period: PeriodMonth, Limit: 1_000_000, Mode: ModeHard}}
			spend := &slowSpend{release: make(chan struct{})}
			m := newTestManager(t, be.newStore(t)(), src, newClock(t0), func(o *Options) { o.Spend = spend })
			gone, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := m.Reserve(gone, []Scope{keyA}, 1); !errors.Is(err, context.Canceled) {
				t.Fatalf("a caller that went away got %v; want context.Canceled", err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for range 50 {
				wg.Go(func() {
					r, err := m.Reserve(context.Background(), []Scope{keyA}, 1)
					if err == nil {
						err = m.Settle(context.Background(), r, 1)
					}
					errs <- err
				})
			}
			close(spend.release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if n := spend.calls.Load(); n != 1 {
				t.Fatalf("SpendSource called %d times for one period; want once", n)
			}
			if s, _ := usage(t, m, keyA); s != 750 {
				t.Fatalf("spent %d; want 700 seeded + 50 settled", s)
			}
		})
	}
}

// TestConcurrentNoOverspend: 200 requests race for a nearly spent hard
// budget; each reserves a maximum and settles a random lower actual cost.
// Whatever the interleaving, spend must never pass the limit.
func TestConcurrentNoOverspend(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			const limit, maxCost = 1_000_000, 10_000
			src := StaticSource{
				{ID: "hard", Scope: teamA, Period: PeriodMonth, Limit: limit, Mode: ModeHard},
				{ID: "key-soft", Scope: keyA, Period: PeriodDay, Limit: 1, Mode: ModeSoft},
			}
			stores := be.newStore(t)
			clock := newClock(t0)
			replicas := []*Manager{newTestManager(t, stores(), src, clock), newTestManager(t, stores(), src, clock)}
			if err := replicas[0].Reconcile(ctx, "hard", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), limit-95_000); err != nil {
				t.Fatal(err)
			}
			rr := raceReservations(t, replicas, 200, maxCost, nil)
			granted, refused, settledTotal := &rr.granted, &rr.refused, &rr.settled
			spent, reserved := usage(t, replicas[1], teamA)
			if spent > limit {
				t.Fatalf("overspent: %d > limit %d", spent, limit)
			}
			if spent != limit-95_000+settledTotal.Load() || reserved != 0 {
				t.Fatalf("spent %d reserved %d; want %d, 0", spent, reserved, limit-95_000+settledTotal.Load())
			}
			if granted.Load() < 9 || refused.Load() == 0 || granted.Load()+refused.Load() != 200 {
				t.Fatalf("granted %d refused %d; want at least 9 granted and some refused", granted.Load(), refused.Load())
			}
		})
	}
}

// raced is what raceReservations counted.
type raced struct {
	granted, refused, settled atomic.Int64
}

// raceReservations sends n concurrent requests of maxCost, charged to keyA
// and teamA and taking turns over replicas; each granted one settles at a
// random cost below maxCost. before, if set, runs first in each request.
func raceReservations(t *testing.T, replicas []*Manager, n int, maxCost int64, before func(i int, m *Manager)) *raced {
	ctx := context.Background()
	var out raced
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := replicas[i%len(replicas)]
			if before != nil {
				before(i, m)
			}
			r, err := m.Reserve(ctx, []Scope{keyA, teamA}, maxCost)
			var ex *ExceededError
			if errors.As(err, &ex) {
				out.refused.Add(1)
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			out.granted.Add(1)
			actual := rand.Int64N(maxCost)
			out.settled.Add(actual)
			if err := m.Settle(ctx, r, actual); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return &out
}

func TestNoBudgetsIsFree(t *testing.T) {
	t.Parallel()
	m := newTestManager(t, NewMemoryStore(), StaticSource{}, newClock(t0))
	r, err := m.Reserve(context.Background(), []Scope{keyA}, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Settle(context.Background(), r, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reserve(context.Background(), []Scope{keyA}, -1); err == nil {
		t.Fatal("negative max cost accepted")
	}
}
