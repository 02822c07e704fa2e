package govern

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/switchyard/switchyard/internal/budget"
	"github.com/switchyard/switchyard/internal/store"
)

// UnavailableError says a dependency of budget enforcement is unreachable.
// FailOpen says whether the configured failure mode lets calls through
// unbudgeted meanwhile.
type UnavailableError struct {
	What     string
	FailOpen bool
	Err      error
}

func (e *UnavailableError) Error() string { return e.What + " unreachable: " + e.Err.Error() }

func (e *UnavailableError) Unwrap() error { return e.Err }

// StoreBudgets is a budget.Source over the store's budget table with a
// short cache per scope, since it is asked on every request. Only the
// first request of a scope waits for the store (and requests arriving
// meanwhile share that one query); afterwards a stale entry keeps
// applying while one background query refreshes it, so the request path
// never waits on the database. When the store is unreachable, the last
// definitions seen keep applying; a scope never seen is an
// *UnavailableError.
type StoreBudgets struct {
	st       store.BudgetStore
	ttl      time.Duration
	failOpen bool
	log      *slog.Logger

	mu      sync.RWMutex
	cache   map[budget.Scope]cachedBudgets // guarded by mu
	down    atomic.Bool
	loading singleflight.Group
}

type cachedBudgets struct {
	budgets []budget.Budget
	at      time.Time
}

// NewStoreBudgets returns the source; failOpen is the store's failure mode.
func NewStoreBudgets(st store.BudgetStore, ttl time.Duration, failOpen bool, log *slog.Logger) *StoreBudgets {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &StoreBudgets{st: st, ttl: ttl, failOpen: failOpen, log: log, cache: map[budget.Scope]cachedBudgets{}}
}

// loadTimeout bounds one query for a scope's budgets.
const loadTimeout = 5 * time.Second

// BudgetsFor implements budget.Source.
func (s *StoreBudgets) BudgetsFor(ctx context.Context, scopes []budget.Scope) ([]budget.Budget, error) {
	var out []budget.Budget
	for _, sc := range scopes {
		s.mu.RLock()
		e, ok := s.cache[sc]
		s.mu.RUnlock()
		switch {
		case !ok:
			res := s.refresh(ctx, sc)
			select {
			case r := <-res:
				if r.Err != nil {
					return nil, &UnavailableError{What: "budget store", FailOpen: s.failOpen, Err: r.Err}
				}
				e = r.Val.(cachedBudgets)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case time.Since(e.at) > s.ttl:
			s.refresh(ctx, sc) // in the background; e applies meanwhile
		}
		out = append(out, e.budgets...)
	}
	return out, nil
}

// refresh starts loading sc's budgets, or joins the load under way, and
// caches the result. It runs on its own deadline: the caller may leave.
func (s *StoreBudgets) refresh(ctx context.Context, sc budget.Scope) <-chan singleflight.Result {
	return s.loading.DoChan(string(sc.Kind)+"\x00"+sc.ID, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		fresh, err := s.load(ctx, sc)
		if err != nil {
			if !s.down.Swap(true) {
				s.log.Warn("govern: budget store unreachable; enforcing the budgets last seen", "err", err)
			}
			return nil, err
		}
		e := cachedBudgets{budgets: fresh, at: time.Now()}
		s.mu.Lock()
		s.cache[sc] = e
		s.mu.Unlock()
		if s.down.Swap(false) {
			s.log.Info("govern: budget store reachable again")
		}
		return e, nil
	})
}

func (s *StoreBudgets) load(ctx context.Context, sc budget.Scope) ([]budget.Budget, error) {
	rows, err := s.st.ListBudgets(ctx, store.BudgetFilter{Scope: string(sc.Kind), ScopeID: sc.ID})
	if err != nil {
		return nil, err
	}
	out := make([]budget.Budget, 0, len(rows))
	for _, r := range rows {
		b := budget.Budget{
			ID: r.ID, Scope: sc, Period: budget.PeriodKind(r.Period),
			Limit: r.LimitMicroUSD, Mode: budget.Mode(r.Mode), AlertWebhook: r.AlertWebhook,
		}
		if r.WindowStart != nil {
			b.WindowStart = *r.WindowStart
		}
		if r.WindowEnd != nil {
			b.WindowEnd = *r.WindowEnd
		}
		if err := b.Validate(); err != nil {
			s.log.Warn("govern: ignoring a budget that cannot be enforced", "budget", r.ID, "err", err)
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// Degraded reports whether the last store read failed.
func (s *StoreBudgets) Degraded() bool { return s.down.Load() }

// StoreSpend is a budget.SpendSource over the usage table.
type StoreSpend struct {
	St       store.UsageStore
	FailOpen bool
}

// Spent implements budget.SpendSource.
func (s StoreSpend) Spent(ctx context.Context, b budget.Budget, from, to time.Time) (int64, error) {
	v, err := s.St.Spend(ctx, string(b.Scope.Kind), b.Scope.ID, from, to)
	if err != nil && ctx.Err() == nil {
		return 0, &UnavailableError{What: "usage store", FailOpen: s.FailOpen, Err: err}
	}
	return v, err
}

// FallbackCounters is a budget.Store that uses primary (Redis) and, when
// primary fails and fail-open is configured, this node's own counters:
// budgets then hold per replica until Redis answers again. Fail-closed,
// a failure is an *UnavailableError.
type FallbackCounters struct {
	primary, local budget.Store
	failOpen       bool
	log            *slog.Logger
	down           atomic.Bool
}

// NewFallbackCounters returns the store.
func NewFallbackCounters(primary budget.Store, failOpen bool, log *slog.Logger) *FallbackCounters {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FallbackCounters{primary: primary, local: budget.NewMemoryStore(), failOpen: failOpen, log: log}
}

// Degraded reports whether the last Redis call failed.
func (f *FallbackCounters) Degraded() bool { return f.down.Load() }

// use returns the store to retry on after err, or the error to return.
func (f *FallbackCounters) fallback(ctx context.Context, err error) (budget.Store, error) {
	if err == nil {
		if f.down.Swap(false) {
			f.log.Info("govern: budget counters reachable again in Redis")
		}
		return nil, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if !f.down.Swap(true) {
		f.log.Warn("govern: budget counters unreachable in Redis", "fail_open", f.failOpen, "err", err)
	}
	if !f.failOpen {
		return nil, &UnavailableError{What: "budget counters (Redis)", Err: err}
	}
	return f.local, nil
}

// Reserve implements budget.Store.
func (f *FallbackCounters) Reserve(ctx context.Context, r budget.ReserveRequest) (budget.Denial, error) {
	d, err := f.primary.Reserve(ctx, r)
	if alt, ferr := f.fallback(ctx, err); alt != nil {
		return alt.Reserve(ctx, r)
	} else if ferr != nil {
		return d, ferr
	}
	return d, nil
}

// Settle implements budget.Store.
func (f *FallbackCounters) Settle(ctx context.Context, r budget.SettleRequest) ([]budget.Crossed, error) {
	c, err := f.primary.Settle(ctx, r)
	if alt, ferr := f.fallback(ctx, err); alt != nil {
		return alt.Settle(ctx, r)
	} else if ferr != nil {
		return nil, ferr
	}
	return c, nil
}

// Release implements budget.Store.
func (f *FallbackCounters) Release(ctx context.Context, r budget.SettleRequest) error {
	err := f.primary.Release(ctx, r)
	alt, ferr := f.fallback(ctx, err)
	if alt != nil {
		return alt.Release(ctx, r)
	}
	return ferr
}

// Seed implements budget.Store.
func (f *FallbackCounters) Seed(ctx context.Context, l budget.Line, spent int64) error {
	err := f.primary.Seed(ctx, l, spent)
	// The local counters are seeded too, so that a later fallback starts
	// from the durable spend rather than from zero.
	_ = f.local.Seed(ctx, l, spent)
	_, ferr := f.fallback(ctx, err)
	return ferr
}

// Reconcile implements budget.Store.
func (f *FallbackCounters) Reconcile(ctx context.Context, l budget.Line, spent int64) error {
	err := f.primary.Reconcile(ctx, l, spent)
	_ = f.local.Reconcile(ctx, l, spent)
	if _, ferr := f.fallback(ctx, err); ferr != nil {
		return ferr
	}
	return nil
}

// Usage implements budget.Store.
func (f *FallbackCounters) Usage(ctx context.Context, l budget.Line) (int64, int64, error) {
	s, r, err := f.primary.Usage(ctx, l)
	if alt, ferr := f.fallback(ctx, err); alt != nil {
		return alt.Usage(ctx, l)
	} else if ferr != nil {
		return 0, 0, ferr
	}
	return s, r, nil
}

var (
	_ budget.Store       = (*FallbackCounters)(nil)
	_ budget.Source      = (*StoreBudgets)(nil)
	_ budget.SpendSource = StoreSpend{}
	_ error              = (*UnavailableError)(nil)
)
