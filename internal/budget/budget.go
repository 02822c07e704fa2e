package budget

import (
	"context"
	"fmt"
	"time"
)

// ScopeKind is what a budget caps: one key, a team or an org.
type ScopeKind string

// Scope kinds, spelled as the store spells them.
const (
	ScopeKey  ScopeKind = "key"
	ScopeTeam ScopeKind = "team"
	ScopeOrg  ScopeKind = "org"
)

// Scope is one thing a request is charged to. A request is usually charged
// to its key, the key's team and the team's org.
type Scope struct {
	Kind ScopeKind
	ID   string
}

func (s Scope) String() string { return string(s.Kind) + " " + s.ID }

// PeriodKind is how a budget's spend resets.
type PeriodKind string

// Periods. Day and month are calendar periods in UTC; a window is one
// fixed span [WindowStart, WindowEnd) outside which the budget does not
// apply.
const (
	PeriodDay    PeriodKind = "day"
	PeriodMonth  PeriodKind = "month"
	PeriodWindow PeriodKind = "window"
)

// Mode is what happens when spend reaches the limit.
type Mode string

// Modes.
const (
	// ModeSoft alerts once per period when spend crosses the limit, and
	// never rejects.
	ModeSoft Mode = "soft"
	// ModeHard rejects any request that could take spend past the limit.
	ModeHard Mode = "hard"
)

// Budget is one spend limit.
type Budget struct {
	// ID names the budget; counters are keyed by it and the period start.
	ID     string
	Scope  Scope
	Period PeriodKind
	// WindowStart and WindowEnd bound a PeriodWindow budget; zero otherwise.
	WindowStart, WindowEnd time.Time
	// Limit is in micro-USD.
	Limit int64
	Mode  Mode
	// AlertWebhook receives the soft-budget alert; empty uses the
	// notifier's default URL.
	AlertWebhook string
}

// Validate reports a budget that cannot be enforced.
func (b Budget) Validate() error {
	switch {
	case b.ID == "":
		return fmt.Errorf("budget needs an id")
	case b.Limit < 0:
		return fmt.Errorf("budget %s: limit must be >= 0", b.ID)
	case b.Mode != ModeSoft && b.Mode != ModeHard:
		return fmt.Errorf("budget %s: mode %q must be soft or hard", b.ID, b.Mode)
	}
	switch b.Period {
	case PeriodDay, PeriodMonth:
	case PeriodWindow:
		if !b.WindowStart.Before(b.WindowEnd) {
			return fmt.Errorf("budget %s: a window budget needs window_start before window_end", b.ID)
		}
	default:
		return fmt.Errorf("budget %s: period %q must be day, month or window", b.ID, b.Period)
	}
	return nil
}

// Window returns the period containing now: [start, end). ok is false
// when the budget does not apply at now (outside a fixed window, or an
// unknown period).
func (b Budget) Window(now time.Time) (start, end time.Time, ok bool) {
	now = now.UTC()
	switch b.Period {
	case PeriodDay:
		start = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1), true
	case PeriodMonth:
		start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0), true
	case PeriodWindow:
		if now.Before(b.WindowStart) || !now.Before(b.WindowEnd) {
			return time.Time{}, time.Time{}, false
		}
		return b.WindowStart.UTC(), b.WindowEnd.UTC(), true
	}
	return time.Time{}, time.Time{}, false
}

// Source supplies budget definitions; the gateway backs it with the store
// (behind a cache: it is called on every request).
type Source interface {
	// BudgetsFor returns every budget of any of scopes.
	BudgetsFor(ctx context.Context, scopes []Scope) ([]Budget, error)
}

// SpendSource reports durable spend, to seed counters the first time this
// process sees a budget period, so a Redis flush or a restart of an
// in-memory gateway does not forget what was spent.
type SpendSource interface {
	// Spent returns what b's scope spent over [from, to).
	Spent(ctx context.Context, b Budget, from, to time.Time) (int64, error)
}

// StaticSource is a fixed list of budgets, for tests and config files.
type StaticSource []Budget

// BudgetsFor returns the budgets of any of scopes.
func (s StaticSource) BudgetsFor(_ context.Context, scopes []Scope) ([]Budget, error) {
	var out []Budget
	for _, b := range s {
		for _, sc := range scopes {
			if b.Scope == sc {
				out = append(out, b)
				break
			}
		}
	}
	return out, nil
}

var _ Source = StaticSource(nil)
