package budget

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingStore counts the calls a Manager makes to its store, and fails
// Settle while failSettle is set.
type countingStore struct {
	Store
	reserves, settles atomic.Int64
	failSettle        atomic.Bool
}

func (s *countingStore) Reserve(ctx context.Context, r ReserveRequest) (Denial, error) {
	s.reserves.Add(1)
	return s.Store.Reserve(ctx, r)
}

func (s *countingStore) Settle(ctx context.Context, r SettleRequest) ([]Crossed, error) {
	s.settles.Add(1)
	if s.failSettle.Load() {
		return nil, errors.New("store down")
	}
	return s.Store.Settle(ctx, r)
}

// leasing has a Manager hold leases that only the test writes (the
// writer's own ticks are an hour apart).
func leasing(o *Options) { o.Lease = time.Hour }

// TestLeaseSkipsTheStore: requests a lease has room for reserve and
// settle without a store call; a write records their spend, keeps the
// room of a lease in use, and gives back the room of an idle one.
func TestLeaseSkipsTheStore(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := &countingStore{Store: be.newStore(t)()}
			src := StaticSource{{ID: "big", Scope: keyA, Period: PeriodDay, Limit: 1_000_000_000, Mode: ModeHard}}
			m := newTestManager(t, store, src, newClock(t0), leasing)
			// Each growth takes room for the request and 32 more like it.
			for range 66 {
				r, err := m.Reserve(ctx, []Scope{keyA}, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if err := m.Settle(ctx, r, 400); err != nil {
					t.Fatal(err)
				}
			}
			// 33,000 held: the first request grows the lease; the settled
			// requests' unused 600 each stays as room, so 66 fit in it.
			if n, s := store.reserves.Load(), store.settles.Load(); n != 1 || s != 0 {
				t.Fatalf("store saw %d reserves and %d settles for 66 requests; want 1 and 0", n, s)
			}
			if spent, reserved := usage(t, m, keyA); spent != 0 || reserved != 33_000 {
				t.Fatalf("before the write: spent %d reserved %d; want 0 and the lease's 33000", spent, reserved)
			}
			r, err := m.Reserve(ctx, []Scope{keyA}, 1000) // in flight across the writes
			if err != nil {
				t.Fatal(err)
			}
			if d := m.Decisions(); d.Leased != 66 || d.Shared != 1 {
				t.Fatalf("Decisions() = %+v; want 66 leased and the first growth", d)
			}
			m.flushLeases(false)
			if spent, reserved := usage(t, m, keyA); spent != 66*400 || reserved != 33_000-66*400 {
				t.Fatalf("after a write: spent %d reserved %d; want %d and the room left, %d", spent, reserved, 66*400, 33_000-66*400)
			}
			// Unused since: the write gives back all but the request in flight.
			m.flushLeases(false)
			if spent, reserved := usage(t, m, keyA); spent != 66*400 || reserved != 1000 {
				t.Fatalf("idle lease: spent %d reserved %d; want %d and 1000", spent, reserved, 66*400)
			}
			if err := m.Settle(ctx, r, 1000); err != nil {
				t.Fatal(err)
			}
			// Close writes the rest and holds nothing.
			m.Close()
			if spent, reserved := usage(t, m, keyA); spent != 67*400+600 || reserved != 0 {
				t.Fatalf("after Close: spent %d reserved %d; want %d and 0", spent, reserved, 67*400+600)
			}
		})
	}
}

// TestLeaseNearTheLimit: a lease that cannot grow turns tight, and until
// the next write every request is reserved on its own: the limit holds to
// the micro-dollar and nothing is refused that fits.
func TestLeaseNearTheLimit(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			src := StaticSource{{ID: "small", Scope: keyA, Period: PeriodDay, Limit: 64_000, Mode: ModeHard}}
			store := &countingStore{Store: be.newStore(t)()}
			m := newTestManager(t, store, src, newClock(t0), leasing)
			if err := m.Reconcile(ctx, "small", time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC), 60_500); err != nil {
				t.Fatal(err)
			}
			reserve := func(amount int64) (*Reservation, error) { return m.Reserve(ctx, []Scope{keyA}, amount) }
			// A lease takes 1000 + min(32×1000, 64000/64) = 2000 of the 3500
			// left: room for the first two requests. The third cannot grow
			// it by another 2000, so it is reserved on its own.
			var held []*Reservation
			for i := range 3 {
				r, err := reserve(1000)
				if err != nil {
					t.Fatalf("request %d of the 3 that fit: %v", i, err)
				}
				held = append(held, r)
			}
			_, err := reserve(1000)
			var ex *ExceededError
			if !errors.As(err, &ex) || ex.Spent != 60_500 || ex.Reserved != 3000 {
				t.Fatalf("fourth: %v; want exceeded with 60500 spent and 3000 reserved", err)
			}
			// The last 500 still fit, to the micro-dollar.
			r, err := reserve(500)
			if err != nil {
				t.Fatalf("a request for the last 500: %v", err)
			}
			held = append(held, r)
			// One growth, the refused growth, then one store reservation
			// each for the third, fourth and fifth request.
			if n := store.reserves.Load(); n != 5 {
				t.Fatalf("%d store reserves; want 5", n)
			}
			for _, r := range held {
				if err := m.Settle(ctx, r, r.Amount()); err != nil {
					t.Fatal(err)
				}
			}
			m.Close()
			if spent, reserved := usage(t, m, keyA); spent != 64_000 || reserved != 0 {
				t.Fatalf("spent %d reserved %d; want the whole 64000 and 0", spent, reserved)
			}
		})
	}
}

// TestLeasedReplicasNeverOverspend: 200 concurrent requests on two
// replicas with leases, against a nearly spent budget, never take spend
// past the limit, and every settled micro-dollar is counted.
func TestLeasedReplicasNeverOverspend(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			const limit, maxCost = 1_000_000, 10_000
			src := StaticSource{{ID: "hard", Scope: teamA, Period: PeriodMonth, Limit: limit, Mode: ModeHard}}
			stores := be.newStore(t)
			clock := newClock(t0)
			replicas := []*Manager{newTestManager(t, stores(), src, clock, leasing), newTestManager(t, stores(), src, clock, leasing)}
			if err := replicas[0].Reconcile(ctx, "hard", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), limit-95_000); err != nil {
				t.Fatal(err)
			}
			rr := raceReservations(t, replicas, 200, maxCost, func(i int, m *Manager) {
				if i%50 == 0 {
					m.flushLeases(false) // writes race the requests
				}
			})
			granted, settledTotal := &rr.granted, &rr.settled
			replicas[0].Close()
			replicas[1].Close()
			spent, reserved := usage(t, replicas[1], teamA)
			if spent > limit || spent != limit-95_000+settledTotal.Load() || reserved != 0 {
				t.Fatalf("spent %d reserved %d; want %d (at most %d) and 0", spent, reserved, limit-95_000+settledTotal.Load(), limit)
			}
			if granted.Load() < 9 {
				t.Fatalf("granted %d; the 95000 left fit at least 9 requests of 10000", granted.Load())
			}
		})
	}
}

// TestLeaseWriteFailure: spend a failed write could not record stays
// with the lease and goes with the next write; a soft line crossed by a
// lease's spend alerts when that spend is written.
func TestLeaseWriteFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &countingStore{Store: NewMemoryStore()}
	src := StaticSource{{ID: "soft", Scope: keyA, Period: PeriodDay, Limit: 500, Mode: ModeSoft}}
	n := &captureNotifier{}
	m := newTestManager(t, store, src, newClock(t0), leasing, func(o *Options) { o.Notifier = n })
	r, err := m.Reserve(ctx, []Scope{keyA}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Settle(ctx, r, 600); err != nil {
		t.Fatal(err)
	}
	store.failSettle.Store(true)
	m.flushLeases(false)
	if spent, _ := usage(t, m, keyA); spent != 0 {
		t.Fatalf("spent %d after a failed write; want 0", spent)
	}
	store.failSettle.Store(false)
	m.flushLeases(false)
	if spent, _ := usage(t, m, keyA); spent != 600 {
		t.Fatalf("spent %d after the next write; want 600", spent)
	}
	m.Close()
	if got := n.all(); len(got) != 1 || got[0].SpentMicroUSD != 600 || got[0].BudgetID != "soft" {
		t.Fatalf("alerts %+v; want one for soft at 600", got)
	}
}

// captureNotifier keeps the alerts it is given.
type captureNotifier struct {
	mu     sync.Mutex
	alerts []Alert
}

func (n *captureNotifier) Notify(_ context.Context, a Alert) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.alerts = append(n.alerts, a)
	return nil
}

func (n *captureNotifier) all() []Alert {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Alert(nil), n.alerts...)
}

// TestLeaseAgreesWithTheStore: with requests growing and settling a lease
// while writes shrink it, what the store holds under the lease is what
// the Manager believes it holds, and spend is counted once.
func TestLeaseAgreesWithTheStore(t *testing.T) {
	t.Parallel()
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := be.newStore(t)()
			src := StaticSource{{ID: "b", Scope: keyA, Period: PeriodDay, Limit: 1_000_000_000, Mode: ModeHard}}
			m := newTestManager(t, store, src, newClock(t0), leasing)
			var requests, writes sync.WaitGroup
			var total atomic.Int64
			stop := make(chan struct{})
			writes.Add(1)
			go func() {
				defer writes.Done()
				for {
					select {
					case <-stop:
						return
					default:
						m.flushLeases(false)
					}
				}
			}()
			for range 8 {
				requests.Add(1)
				go func() {
					defer requests.Done()
					for range 100 {
						amount := 1 + rand.Int64N(5000)
						r, err := m.Reserve(ctx, []Scope{keyA}, amount)
						if err != nil {
							t.Error(err)
							return
						}
						actual := rand.Int64N(amount + 1)
						total.Add(actual)
						if err := m.Settle(ctx, r, actual); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			requests.Wait()
			close(stop)
			writes.Wait()
			line := Line{BudgetID: "b", PeriodStart: time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)}
			v, ok := m.leases.m.Load(lineKey{line.BudgetID, line.PeriodStart.Unix()})
			if !ok {
				t.Fatal("no lease")
			}
			le := v.(*lease)
			spent, reserved, err := store.Usage(ctx, line)
			if err != nil {
				t.Fatal(err)
			}
			if reserved != le.held || le.inflight != 0 || spent+le.pending != total.Load() {
				t.Fatalf("store: spent %d reserved %d; lease: held %d in flight %d pending %d; settled %d",
					spent, reserved, le.held, le.inflight, le.pending, total.Load())
			}
		})
	}
}

// TestLeaseOverrun: a request that cost more than it reserved spends past
// its lease's room; the write records it all and keeps what the request
// still in flight reserved.
func TestLeaseOverrun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := StaticSource{{ID: "b", Scope: keyA, Period: PeriodDay, Limit: 1_000_000_000, Mode: ModeHard}}
	m := newTestManager(t, NewMemoryStore(), src, newClock(t0), leasing)
	inFlight, err := m.Reserve(ctx, []Scope{keyA}, 1000) // grows the lease to 33000
	if err != nil {
		t.Fatal(err)
	}
	over, err := m.Reserve(ctx, []Scope{keyA}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Settle(ctx, over, 40_000); err != nil {
		t.Fatal(err)
	}
	m.flushLeases(false)
	if spent, reserved := usage(t, m, keyA); spent != 40_000 || reserved != 1000 {
		t.Fatalf("spent %d reserved %d; want 40000 and the 1000 still in flight", spent, reserved)
	}
	if err := m.Settle(ctx, inFlight, 500); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseFollowsAnEditedBudget: a soft limit raised mid-period is the
// one a lease's write checks its spend against.
func TestLeaseFollowsAnEditedBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &StaticSource{{ID: "soft", Scope: keyA, Period: PeriodDay, Limit: 500, Mode: ModeSoft}}
	n := &captureNotifier{}
	m := newTestManager(t, NewMemoryStore(), editable{src}, newClock(t0), leasing, func(o *Options) { o.Notifier = n })
	spend := func(cost int64) {
		r, err := m.Reserve(ctx, []Scope{keyA}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Settle(ctx, r, cost); err != nil {
			t.Fatal(err)
		}
	}
	spend(100)
	(*src)[0].Limit = 1000 // raised by an admin
	spend(500)             // 600 spent: past the old limit, within the new
	m.flushLeases(false)
	spend(500) // 1100: past the new one
	m.Close()
	if got := n.all(); len(got) != 1 || got[0].SpentMicroUSD != 1100 || got[0].LimitMicroUSD != 1000 {
		t.Fatalf("alerts %+v; want one, at 1100 of 1000", got)
	}
}

// editable is a Source whose budgets a test changes between calls.
type editable struct{ src *StaticSource }

func (e editable) BudgetsFor(ctx context.Context, scopes []Scope) ([]Budget, error) {
	return e.src.BudgetsFor(ctx, scopes)
}
