package govern

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/budget"
	"github.com/switchyard/switchyard/internal/store"
)

// gatedBudgets is a store.BudgetStore whose ListBudgets waits for a gate
// and fails while down is set.
type gatedBudgets struct {
	store.BudgetStore // not called
	gate              chan struct{}
	down              atomic.Bool
	queries           atomic.Int32
	limit             atomic.Int64
}

func (g *gatedBudgets) ListBudgets(ctx context.Context, f store.BudgetFilter) ([]store.Budget, error) {
	g.queries.Add(1)
	<-g.gate
	if g.down.Load() {
		return nil, errors.New("connection refused")
	}
	return []store.Budget{{ID: "bud_1", Scope: f.Scope, ScopeID: f.ScopeID, Period: "day", LimitMicroUSD: g.limit.Load(), Mode: "hard"}}, nil
}

func TestStoreBudgetsNeverWaitOnAStaleEntry(t *testing.T) {
	ctx := context.Background()
	scope := []budget.Scope{{Kind: budget.ScopeKey, ID: "k1"}}
	st := &gatedBudgets{gate: make(chan struct{})}
	st.limit.Store(100)
	const ttl = 20 * time.Millisecond
	src := NewStoreBudgets(st, ttl, false, nil)

	// A scope never seen: requests wait for the store, sharing one query.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if bs, err := src.BudgetsFor(ctx, scope); err != nil || len(bs) != 1 || bs[0].Limit != 100 {
				t.Errorf("first load: %+v, %v", bs, err)
			}
		})
	}
	for st.queries.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(st.gate)
	wg.Wait()
	if n := st.queries.Load(); n != 1 {
		t.Fatalf("%d queries for one scope's first load; want 1", n)
	}

	// Stale: the old definition answers at once while a background query,
	// stuck in the store, refreshes it.
	st.gate = make(chan struct{})
	st.limit.Store(200)
	time.Sleep(2 * ttl)
	for range 5 {
		bs, err := src.BudgetsFor(ctx, scope)
		if err != nil || bs[0].Limit != 100 {
			t.Fatalf("stale entry: %+v, %v; want the cached limit 100 at once", bs, err)
		}
	}
	waitFor(t, func() bool { return st.queries.Load() == 2 })
	if n := st.queries.Load(); n != 2 {
		t.Fatalf("%d queries; want one background refresh", n)
	}
	close(st.gate)
	waitFor(t, func() bool {
		bs, _ := src.BudgetsFor(ctx, scope)
		return bs[0].Limit == 200
	})

	// The store goes down: the last definitions keep applying and the
	// source says it is degraded; a scope never seen is unavailable.
	st.down.Store(true)
	time.Sleep(2 * ttl)
	if bs, err := src.BudgetsFor(ctx, scope); err != nil || bs[0].Limit != 200 {
		t.Fatalf("store down: %+v, %v; want the cached budgets", bs, err)
	}
	waitFor(t, src.Degraded)
	_, err := src.BudgetsFor(ctx, []budget.Scope{{Kind: budget.ScopeKey, ID: "k2"}})
	if ue, ok := errors.AsType[*UnavailableError](err); !ok || ue.FailOpen {
		t.Fatalf("unseen scope with the store down: %v; want a fail-closed *UnavailableError", err)
	}
	st.down.Store(false)
	time.Sleep(2 * ttl)
	_, _ = src.BudgetsFor(ctx, scope)
	waitFor(t, func() bool { return !src.Degraded() })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
