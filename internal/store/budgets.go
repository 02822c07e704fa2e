package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

const budgetColumns = `id, scope, scope_id, period, window_start, window_end, limit_micro_usd, mode, alert_webhook, created_at`

func scanBudget(sc scanner) (Budget, error) {
	var b Budget
	var ws, we sql.NullInt64
	var created int64
	if err := sc.Scan(&b.ID, &b.Scope, &b.ScopeID, &b.Period, &ws, &we, &b.LimitMicroUSD, &b.Mode,
		&b.AlertWebhook, &created); err != nil {
		return Budget{}, err
	}
	b.WindowStart, b.WindowEnd, b.CreatedAt = fromNullMicros(ws), fromNullMicros(we), fromMicros(created)
	return b, nil
}

func validateBudget(b Budget) error {
	switch {
	case b.Scope != ScopeKey && b.Scope != ScopeTeam && b.Scope != ScopeOrg:
		return fmt.Errorf("scope %q must be key, team or org", b.Scope)
	case b.Period != PeriodDay && b.Period != PeriodMonth && b.Period != PeriodWindow:
		return fmt.Errorf("period %q must be day, month or window", b.Period)
	case b.Period == PeriodWindow && (b.WindowStart == nil || b.WindowEnd == nil || !b.WindowEnd.After(*b.WindowStart)):
		return fmt.Errorf("a window budget needs window_start before window_end")
	case b.Mode != ModeSoft && b.Mode != ModeHard:
		return fmt.Errorf("mode %q must be soft or hard", b.Mode)
	case b.LimitMicroUSD < 0:
		return fmt.Errorf("limit must not be negative")
	}
	return nil
}

// CreateBudget implements BudgetStore. An invalid budget is rejected with
// a message naming the bad field.
func (s *sqlStore) CreateBudget(ctx context.Context, b Budget) (Budget, error) {
	if err := validateBudget(b); err != nil {
		return Budget{}, fmt.Errorf("store: create budget: %w", err)
	}
	if b.ID == "" {
		b.ID = NewID("bud")
	}
	b.CreatedAt = orNow(b.CreatedAt)
	b.WindowStart, b.WindowEnd = truncPtr(b.WindowStart), truncPtr(b.WindowEnd)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO budgets (`+budgetColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		b.ID, b.Scope, b.ScopeID, b.Period, nullMicros(b.WindowStart), nullMicros(b.WindowEnd), b.LimitMicroUSD,
		b.Mode, b.AlertWebhook, micros(b.CreatedAt))
	return b, mapErr(err, "store: create budget")
}

// Budget implements BudgetStore.
func (s *sqlStore) Budget(ctx context.Context, id string) (Budget, error) {
	b, err := scanBudget(s.db.QueryRowContext(ctx, s.q(`SELECT `+budgetColumns+` FROM budgets WHERE id = ?`), id))
	return b, mapErr(err, "store: budget "+id)
}

// ListBudgets implements BudgetStore.
func (s *sqlStore) ListBudgets(ctx context.Context, f BudgetFilter) ([]Budget, error) {
	var where []string
	var args []any
	if f.Scope != "" {
		where, args = append(where, "scope = ?"), append(args, f.Scope)
	}
	if f.ScopeID != "" {
		where, args = append(where, "scope_id = ?"), append(args, f.ScopeID)
	}
	query := `SELECT ` + budgetColumns + ` FROM budgets`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+" ORDER BY created_at, id"), args...)
	if err != nil {
		return nil, mapErr(err, "store: list budgets")
	}
	defer rows.Close()
	var out []Budget
	for rows.Next() {
		b, err := scanBudget(rows)
		if err != nil {
			return nil, mapErr(err, "store: list budgets")
		}
		out = append(out, b)
	}
	return out, mapErr(rows.Err(), "store: list budgets")
}

// DeleteBudget implements BudgetStore.
func (s *sqlStore) DeleteBudget(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM budgets WHERE id = ?`), id)
	return affected(res, err, "store: delete budget "+id)
}
