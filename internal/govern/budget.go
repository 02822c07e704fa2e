package govern

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchyard/switchyard/internal/budget"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// Budget is the accounting stage that enforces spend limits of the
// caller's key, team and org. Before reserves the most the call can cost
// (its prompt estimate and output allowance at the dearest eligible
// deployment's price) on every budget at once; After settles the true
// cost at the answering deployment's price, or releases the reservation
// when the call never reached a provider. A hard budget without room
// refuses the call with a 429 "budget_exceeded" naming the budget; a soft
// one alerts (webhook) once per period when crossed.
type Budget struct {
	mgr    *budget.Manager
	prices *Prices
	tok    *Tokenizer
	log    *slog.Logger
	settle *settler // runs settlements; nil runs them inline
}

// NewBudget returns the stage.
func NewBudget(m *budget.Manager, p *Prices, tok *Tokenizer, log *slog.Logger) *Budget {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Budget{mgr: m, prices: p, tok: tok, log: log}
}

// Name implements gateway.Stage.
func (*Budget) Name() string { return "budget" }

// Scopes are what a caller's calls are charged to: its key, team and org.
func Scopes(caller *gateway.Caller) []budget.Scope {
	if caller == nil {
		return nil
	}
	out := make([]budget.Scope, 0, 3)
	if caller.KeyID != "" {
		out = append(out, budget.Scope{Kind: budget.ScopeKey, ID: caller.KeyID})
	}
	if caller.TeamID != "" {
		out = append(out, budget.Scope{Kind: budget.ScopeTeam, ID: caller.TeamID})
	}
	if caller.OrgID != "" {
		out = append(out, budget.Scope{Kind: budget.ScopeOrg, ID: caller.OrgID})
	}
	return out
}

// Before reserves the call's maximum cost.
func (s *Budget) Before(ctx context.Context, c *gateway.Call) error {
	scopes := Scopes(c.Info.Caller)
	if len(scopes) == 0 {
		return nil
	}
	r, err := s.mgr.Reserve(ctx, scopes, s.prices.MaxCost(c))
	if err == nil {
		c.Set(keyReservation, r)
		return nil
	}
	var ex *budget.ExceededError
	if errors.As(err, &ex) {
		return ex.LLMError()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var un *UnavailableError
	if errors.As(err, &un) && un.FailOpen {
		s.log.Warn("govern: budgets not enforced for this call", "request", c.Info.ID, "err", err)
		return nil
	}
	s.log.Error("govern: refusing a call whose budget cannot be checked", "request", c.Info.ID, "err", err)
	return &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeAPI, Code: "budget_unavailable",
		Message:    "The gateway cannot check your budget right now because its budget store is unreachable; retry shortly. If this persists, ask an administrator to check the database and Redis.",
		RetryAfter: time.Second}
}

// After settles the reservation with the call's true cost.
func (s *Budget) After(ctx context.Context, c *gateway.Call) {
	r, _ := c.Get(keyReservation).(*budget.Reservation)
	if r == nil {
		return
	}
	cost := s.prices.Cost(c, s.tok)
	release := c.Deployment == nil || (cost == 0 && c.Err != nil)
	requestID := c.Info.ID
	s.settle.run(ctx, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, afterTimeout)
		defer cancel()
		var err error
		if release {
			err = s.mgr.Release(ctx, r)
		} else {
			err = s.mgr.Settle(ctx, r, cost)
		}
		if err != nil {
			// The reservation expires by itself; the usage record keeps
			// the cost for reconciliation.
			s.log.Warn("govern: budget settle failed", "request", requestID, "reservation", r.ID(), "cost_micro_usd", cost, "err", err)
		}
	})
}
