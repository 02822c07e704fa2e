package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

// budgetTeam returns the team a budget's scope belongs to, for the
// per-team check: the team itself, or the key's team. Org budgets belong
// to no team.
func (h *handler) budgetTeam(ctx context.Context, scope, scopeID string) (string, error) {
	switch scope {
	case store.ScopeTeam:
		return scopeID, nil
	case store.ScopeKey:
		k, err := h.opts.Store.Key(ctx, scopeID)
		if errors.Is(err, store.ErrNotFound) {
			return "", invalid("scope_id", "key %q does not exist", scopeID)
		}
		return k.TeamID, err
	}
	return "", nil
}

func (h *handler) createBudget(w http.ResponseWriter, r *http.Request, c *call) error {
	var in adminv1.BudgetCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if in.Period == "" {
		in.Period = store.PeriodMonth
	}
	if in.Mode == "" {
		in.Mode = store.ModeHard
	}
	if err := validateBudget(in); err != nil {
		return err
	}
	team, err := h.budgetTeam(r.Context(), in.Scope, in.ScopeID)
	if err != nil {
		return err
	}
	c.target("budget", team, "")
	if err := c.inTeam(team, "a "+in.Scope+" budget"); err != nil {
		return err
	}
	if err := h.budgetTargetExists(r.Context(), in.Scope, in.ScopeID); err != nil {
		return err
	}
	b, err := h.opts.Store.CreateBudget(r.Context(), store.Budget{
		Scope: in.Scope, ScopeID: in.ScopeID, Period: in.Period, WindowStart: in.WindowStart, WindowEnd: in.WindowEnd,
		LimitMicroUSD: in.LimitMicroUSD, Mode: in.Mode, AlertWebhook: in.AlertWebhook,
	})
	if err != nil {
		return storeError(err, "the new budget")
	}
	c.target("budget/"+b.ID, team, orgIfScoped(b))
	writeJSON(w, http.StatusCreated, b)
	return nil
}

func orgIfScoped(b store.Budget) string {
	if b.Scope == store.ScopeOrg {
		return b.ScopeID
	}
	return ""
}

// validateBudget names the first bad field; the store's own check would
// only say what is wrong, not where.
func validateBudget(in adminv1.BudgetCreate) error {
	switch {
	case in.Scope != store.ScopeKey && in.Scope != store.ScopeTeam && in.Scope != store.ScopeOrg:
		return invalid("scope", "scope %q must be key, team or org", in.Scope)
	case in.ScopeID == "":
		return invalid("scope_id", "scope_id is required: the id of the %s the budget caps", in.Scope)
	case in.Period != store.PeriodDay && in.Period != store.PeriodMonth && in.Period != store.PeriodWindow:
		return invalid("period", "period %q must be day, month or window", in.Period)
	case in.Period == store.PeriodWindow && (in.WindowStart == nil || in.WindowEnd == nil):
		return invalid("window_start", "a window budget needs window_start and window_end")
	case in.Period == store.PeriodWindow && !in.WindowEnd.After(*in.WindowStart):
		return invalid("window_end", "window_end must be after window_start")
	case in.Period != store.PeriodWindow && (in.WindowStart != nil || in.WindowEnd != nil):
		return invalid("window_start", "window_start and window_end only apply to period \"window\"")
	case in.Mode != store.ModeSoft && in.Mode != store.ModeHard:
		return invalid("mode", "mode %q must be soft (alert only) or hard (block at the limit)", in.Mode)
	case in.LimitMicroUSD <= 0:
		return invalid("limit_micro_usd", "limit_micro_usd must be positive (1 USD = 1000000)")
	}
	return nil
}

func (h *handler) budgetTargetExists(ctx context.Context, scope, id string) error {
	var err error
	switch scope {
	case store.ScopeTeam:
		_, err = h.opts.Store.Team(ctx, id)
	case store.ScopeOrg:
		_, err = h.opts.Store.Org(ctx, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return invalid("scope_id", "%s %q does not exist", scope, id)
	}
	return err
}

func (h *handler) listBudgets(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	budgets, err := h.opts.Store.ListBudgets(r.Context(), store.BudgetFilter{Scope: q.Get("scope"), ScopeID: q.Get("scope_id")})
	if err != nil {
		return err
	}
	if !c.scope.all {
		var keep []store.Budget
		for _, b := range budgets {
			team, err := h.budgetTeam(r.Context(), b.Scope, b.ScopeID)
			if err != nil {
				continue // a budget of a deleted key is nobody's team
			}
			if c.scope.allows(team) {
				keep = append(keep, b)
			}
		}
		budgets = keep
	}
	writeJSON(w, http.StatusOK, list(budgets))
	return nil
}

func (h *handler) loadBudget(r *http.Request, c *call) (store.Budget, error) {
	id := r.PathValue("id")
	c.target("budget/"+id, "", "")
	b, err := h.opts.Store.Budget(r.Context(), id)
	if err != nil {
		return store.Budget{}, storeError(err, "budget "+id)
	}
	team, err := h.budgetTeam(r.Context(), b.Scope, b.ScopeID)
	var gone *apiError
	if err != nil && !errors.As(err, &gone) {
		return store.Budget{}, err
	}
	// A budget whose key is gone belongs to no team: admins only.
	c.target("budget/"+id, team, orgIfScoped(b))
	return b, c.inTeam(team, "budget "+id)
}

func (h *handler) getBudget(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := h.loadBudget(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

func (h *handler) deleteBudget(w http.ResponseWriter, r *http.Request, c *call) error {
	b, err := h.loadBudget(r, c)
	if err != nil {
		return err
	}
	if err := h.opts.Store.DeleteBudget(r.Context(), b.ID); err != nil {
		return storeError(err, "budget "+b.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
