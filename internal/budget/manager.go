package budget

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Options configures a Manager.
type Options struct {
	// Source supplies budget definitions. Required.
	Source Source
	// Store keeps the counters: NewMemoryStore() for one node,
	// NewRedisStore(...) for several replicas. Required.
	Store Store
	// Spend seeds a period's counters from durable usage the first time
	// this Manager sees it; or nil.
	Spend SpendSource
	// Notifier delivers soft-budget alerts; or nil to drop them.
	Notifier Notifier
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// ReservationTTL is how long an unsettled reservation (a crashed
	// replica, a lost goroutine) keeps holding budget. Default 15m; it
	// must outlast the longest request, streams included.
	ReservationTTL time.Duration
	// AlertQueue is how many alerts may wait for the notifier before new
	// ones are dropped (and logged). Default 256.
	AlertQueue int
	// Logger receives delivery failures. Default slog.Default().
	Logger *slog.Logger
	// Lease, when positive, has the Manager hold budget in the store
	// ahead of its requests (see lease) and write what they spent this
	// often: most requests then reserve and settle without a round trip.
	// The store's totals lag by up to Lease. Zero sends every
	// reservation and settlement to the store.
	Lease time.Duration
}

// Manager enforces budgets. It is safe for concurrent use; Close it to
// stop the alert sender.
type Manager struct {
	src      Source
	store    Store
	spend    SpendSource
	notifier Notifier
	now      func() time.Time
	ttl      time.Duration
	log      *slog.Logger

	idPrefix string
	seq      atomic.Uint64
	seeded   sync.Map // lineKey -> struct{}
	seeding  singleflight.Group

	leases *leases // or nil

	alertMu sync.RWMutex
	alerts  chan Alert // or nil; guarded by alertMu once closed
	closed  bool       // guarded by alertMu
	done    chan struct{}
}

// NewManager returns a Manager.
func NewManager(o Options) (*Manager, error) {
	if o.Source == nil || o.Store == nil {
		return nil, errors.New("budget: Options.Source and Options.Store are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReservationTTL <= 0 {
		o.ReservationTTL = 15 * time.Minute
	}
	if o.AlertQueue <= 0 {
		o.AlertQueue = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	m := &Manager{
		src: o.Source, store: o.Store, spend: o.Spend, notifier: o.Notifier,
		now: o.Now, ttl: o.ReservationTTL, log: o.Logger,
		idPrefix: hex.EncodeToString(b[:]) + "-",
		done:     make(chan struct{}),
	}
	if o.Lease > 0 {
		m.leases = &leases{
			id: m.idPrefix + "lease", every: o.Lease, ttl: min(m.ttl, leaseTTL),
			stop: make(chan struct{}), done: make(chan struct{}),
		}
		go m.writeLeases()
	}
	if m.notifier != nil {
		m.alerts = make(chan Alert, o.AlertQueue)
		go m.sendAlerts()
	} else {
		close(m.done)
	}
	return m, nil
}

// Reservation is budget held for one request between Reserve and Settle
// or Release. A nil *Reservation is valid and settles to nothing.
type Reservation struct {
	id     string
	amount int64
	lines  []Line
	meta   []lineMeta // parallel to lines
	done   atomic.Bool
	// leases are the leases r was reserved from, parallel to lines; nil
	// when the store holds r itself.
	leases []*lease

	// Most requests hit at most key, team and org budgets: keep them in
	// the one allocation.
	linesBuf [3]Line
	metaBuf  [3]lineMeta
	leaseBuf [3]*lease
}

// lineMeta is what errors and alerts need of a line's budget.
type lineMeta struct {
	scope   Scope
	period  PeriodKind
	webhook string
}

// ID names the reservation in logs; empty for one held in a lease.
func (r *Reservation) ID() string {
	if r == nil {
		return ""
	}
	return r.id
}

// Amount is the reserved maximum cost in micro-USD.
func (r *Reservation) Amount() int64 {
	if r == nil {
		return 0
	}
	return r.amount
}

// Reserve holds maxCost (micro-USD) on every budget of scopes, atomically:
// if a hard budget lacks room, nothing is held and the error is an
// *ExceededError. Call Settle with the actual cost, or Release when the
// request failed without cost.
func (m *Manager) Reserve(ctx context.Context, scopes []Scope, maxCost int64) (*Reservation, error) {
	if maxCost < 0 {
		return nil, fmt.Errorf("budget: negative max cost %d", maxCost)
	}
	budgets, err := m.src.BudgetsFor(ctx, scopes)
	if err != nil {
		return nil, fmt.Errorf("budget: loading budgets: %w", err)
	}
	now := m.now()
	r := &Reservation{amount: maxCost}
	r.lines, r.meta = r.linesBuf[:0], r.metaBuf[:0]
	for i := range budgets {
		b := &budgets[i]
		start, end, ok := b.Window(now)
		if !ok || containsBudget(r.lines, b.ID) {
			continue
		}
		r.lines = append(r.lines, Line{BudgetID: b.ID, PeriodStart: start, PeriodEnd: end, Limit: b.Limit, Mode: b.Mode})
		r.meta = append(r.meta, lineMeta{scope: b.Scope, period: b.Period, webhook: b.AlertWebhook})
	}
	if len(r.lines) == 0 {
		r.done.Store(true)
		return r, nil
	}
	sortLines(r.lines, r.meta)
	if err := m.seed(ctx, r); err != nil {
		return nil, err
	}
	if m.leases != nil {
		ok, tight := m.takeLeased(r)
		if ok {
			m.leases.leased.Add(1)
			return r, nil
		}
		m.leases.shared.Add(1)
		if !tight {
			if ok, err = m.growLeases(ctx, r, now); err != nil {
				return nil, fmt.Errorf("budget: reserve: %w", err)
			}
			if ok {
				return r, nil
			}
		}
		r.leases = nil
	}
	// Only a reservation the store holds on its own needs a name there.
	r.id = string(strconv.AppendUint(append(make([]byte, 0, 32), m.idPrefix...), m.seq.Add(1), 36))
	d, err := m.store.Reserve(ctx, ReserveRequest{ID: r.id, Lines: r.lines, Amount: maxCost, Now: now, Expires: now.Add(m.ttl)})
	if err != nil {
		return nil, fmt.Errorf("budget: reserve: %w", err)
	}
	if d.Index >= 0 {
		l, meta := r.lines[d.Index], r.meta[d.Index]
		return nil, &ExceededError{
			BudgetID: l.BudgetID, Scope: meta.scope, Period: meta.period,
			PeriodStart: l.PeriodStart, PeriodEnd: l.PeriodEnd,
			Limit: l.Limit, Spent: d.Spent, Reserved: d.Reserved, Requested: maxCost, Now: now,
		}
	}
	return r, nil
}

func containsBudget(lines []Line, id string) bool {
	for _, l := range lines {
		if l.BudgetID == id {
			return true
		}
	}
	return false
}

// sortLines orders lines (and their budgets) by budget id so that every
// store locks counters in one global order and cannot deadlock.
func sortLines(lines []Line, meta []lineMeta) {
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j].BudgetID < lines[j-1].BudgetID; j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
			meta[j], meta[j-1] = meta[j-1], meta[j]
		}
	}
}

type lineKey struct {
	id    string
	start int64
}

// seed loads durable spend into periods this Manager has not seen yet.
func (m *Manager) seed(ctx context.Context, r *Reservation) error {
	if m.spend == nil {
		return nil
	}
	for i, l := range r.lines {
		k := lineKey{l.BudgetID, l.PeriodStart.Unix()}
		if _, ok := m.seeded.Load(k); ok {
			continue
		}
		b := Budget{ID: l.BudgetID, Scope: r.meta[i].scope, Period: r.meta[i].period, Limit: l.Limit, Mode: l.Mode}
		// Every request that arrives before the first seed finished needs
		// it: one query serves them all, or a busy gateway that just
		// started would send the store a sum over the period's usage per
		// request. The query runs on its own deadline, so that one
		// caller going away does not fail the others.
		res := m.seeding.DoChan(fmt.Sprint(k), func() (any, error) {
			// A caller that saw the period unseeded just before the last
			// flight finished starts a new one; that flight has nothing
			// left to do.
			if _, ok := m.seeded.Load(k); ok {
				return nil, nil
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), seedTimeout)
			defer cancel()
			spent, err := m.spend.Spent(ctx, b, l.PeriodStart, l.PeriodEnd)
			if err != nil {
				return nil, fmt.Errorf("budget: loading spend of %s: %w", l.BudgetID, err)
			}
			if err := m.store.Seed(ctx, l, spent); err != nil {
				return nil, fmt.Errorf("budget: seeding %s: %w", l.BudgetID, err)
			}
			m.seeded.Store(k, struct{}{})
			return nil, nil
		})
		select {
		case out := <-res:
			if out.Err != nil {
				return out.Err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// seedTimeout bounds loading a period's spend from the store, and
// writing a lease.
const seedTimeout = 10 * time.Second

// leaseTTL is how long the store keeps a lease that its Manager stopped
// writing (a crashed replica): it is rewritten every half of it.
const leaseTTL = time.Minute

// Settle replaces r's reservation with the actual cost (micro-USD). It is
// harmless on a nil, released, already settled or expired reservation: an
// expired one still records the actual cost, since the money was spent.
// The period charged is the one the reservation was made in.
func (m *Manager) Settle(ctx context.Context, r *Reservation, actualCost int64) error {
	if r == nil || !r.done.CompareAndSwap(false, true) {
		return nil
	}
	if r.leases != nil {
		m.settleLeased(r, max(actualCost, 0))
		return nil
	}
	crossed, err := m.store.Settle(ctx, SettleRequest{ID: r.id, Lines: r.lines, Actual: max(actualCost, 0), Now: m.now()})
	if err != nil {
		return fmt.Errorf("budget: settle: %w", err)
	}
	for _, c := range crossed {
		m.enqueue(r.lines[c.Index], r.meta[c.Index], c.Spent)
	}
	return nil
}

// Release gives r's reservation back without spending anything.
func (m *Manager) Release(ctx context.Context, r *Reservation) error {
	if r == nil || !r.done.CompareAndSwap(false, true) {
		return nil
	}
	if r.leases != nil {
		m.releaseLeased(r)
		return nil
	}
	if err := m.store.Release(ctx, SettleRequest{ID: r.id, Lines: r.lines, Now: m.now()}); err != nil {
		return fmt.Errorf("budget: release: %w", err)
	}
	return nil
}

// Reconcile sets the spend of budget budgetID for the period starting at
// periodStart to a durable total, e.g. from the usage table after a Redis
// flush. Reservations in flight are kept.
func (m *Manager) Reconcile(ctx context.Context, budgetID string, periodStart time.Time, spentMicroUSD int64) error {
	l := Line{BudgetID: budgetID, PeriodStart: periodStart.UTC()}
	if err := m.store.Reconcile(ctx, l, spentMicroUSD); err != nil {
		return fmt.Errorf("budget: reconcile %s: %w", budgetID, err)
	}
	m.seeded.Store(lineKey{budgetID, l.PeriodStart.Unix()}, struct{}{})
	return nil
}

// Status is a budget's standing in its current period.
type Status struct {
	Budget      Budget
	PeriodStart time.Time
	PeriodEnd   time.Time
	// Spent and Reserved are in micro-USD.
	Spent, Reserved int64
}

// Status reports the current period of every budget of scopes.
func (m *Manager) Status(ctx context.Context, scopes []Scope) ([]Status, error) {
	budgets, err := m.src.BudgetsFor(ctx, scopes)
	if err != nil {
		return nil, fmt.Errorf("budget: loading budgets: %w", err)
	}
	now := m.now()
	var out []Status
	for _, b := range budgets {
		start, end, ok := b.Window(now)
		if !ok {
			continue
		}
		spent, reserved, err := m.store.Usage(ctx, Line{BudgetID: b.ID, PeriodStart: start, PeriodEnd: end, Limit: b.Limit, Mode: b.Mode})
		if err != nil {
			return nil, fmt.Errorf("budget: usage of %s: %w", b.ID, err)
		}
		out = append(out, Status{Budget: b, PeriodStart: start, PeriodEnd: end, Spent: spent, Reserved: reserved})
	}
	return out, nil
}

func (m *Manager) enqueue(l Line, meta lineMeta, spent int64) {
	a := Alert{
		BudgetID: l.BudgetID, Scope: meta.scope.Kind, ScopeID: meta.scope.ID, Period: meta.period,
		PeriodStart: l.PeriodStart, PeriodEnd: l.PeriodEnd,
		LimitMicroUSD: l.Limit, SpentMicroUSD: spent, At: m.now().UTC(), Webhook: meta.webhook,
	}
	m.alertMu.RLock()
	defer m.alertMu.RUnlock()
	if m.alerts == nil || m.closed {
		return
	}
	select {
	case m.alerts <- a:
	default:
		m.log.Error("budget alert dropped: queue full", "budget", l.BudgetID, "spent_micro_usd", spent)
	}
}

func (m *Manager) sendAlerts() {
	defer close(m.done)
	for a := range m.alerts {
		if err := m.notifier.Notify(context.Background(), a); err != nil {
			m.log.Error("budget alert not delivered", "budget", a.BudgetID, "err", err)
		}
	}
}

// Close writes what leases hold and gives back their room, stops
// accepting alerts and waits until queued ones are sent. Call it after the
// last Settle.
func (m *Manager) Close() error {
	if m.leases != nil {
		m.leases.stopOnce.Do(func() { close(m.leases.stop) })
		<-m.leases.done
	}
	m.alertMu.Lock()
	if m.alerts != nil && !m.closed {
		close(m.alerts)
	}
	m.closed = true
	m.alertMu.Unlock()
	<-m.done
	return nil
}
