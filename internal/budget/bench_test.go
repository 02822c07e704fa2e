package budget

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkMemoryReserveSettle measures the hot-path cost of one request
// charged to key, team and org budgets on the in-memory store.
func BenchmarkMemoryReserveSettle(b *testing.B) {
	ctx := context.Background()
	var src StaticSource
	var scopes [][]Scope
	for i := range 64 {
		k, tm, o := Scope{ScopeKey, "k" + strconv.Itoa(i)}, Scope{ScopeTeam, "t" + strconv.Itoa(i%8)}, Scope{ScopeOrg, "o"}
		src = append(src, Budget{ID: "bk" + strconv.Itoa(i), Scope: k, Period: PeriodDay, Limit: 1 << 60, Mode: ModeHard})
		scopes = append(scopes, []Scope{k, tm, o})
	}
	for i := range 8 {
		src = append(src, Budget{ID: "bt" + strconv.Itoa(i), Scope: Scope{ScopeTeam, "t" + strconv.Itoa(i)}, Period: PeriodMonth, Limit: 1 << 60, Mode: ModeHard})
	}
	src = append(src, Budget{ID: "bo", Scope: Scope{ScopeOrg, "o"}, Period: PeriodMonth, Limit: 1 << 60, Mode: ModeSoft})
	// A source that answers from a precomputed list per key, as the
	// gateway's cache would.
	idx := indexedSource{}
	for _, sc := range scopes {
		idx[sc[0]], _ = src.BudgetsFor(context.Background(), sc)
	}
	m, err := NewManager(Options{Source: idx, Store: NewMemoryStore()})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			r, err := m.Reserve(ctx, scopes[i%len(scopes)], 1000)
			if err != nil {
				b.Error(err)
				return
			}
			_ = m.Settle(ctx, r, 500)
		}
	})
}

type indexedSource map[Scope][]Budget

func (s indexedSource) BudgetsFor(_ context.Context, scopes []Scope) ([]Budget, error) {
	return s[scopes[0]], nil
}
