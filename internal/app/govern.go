package app

import (
	"context"

	"github.com/switchyard/switchyard/internal/gateway"
)

// buildGovernance returns the identity-scoped spend stages: admission
// stages (rate limits) run before the guardrails, accounting stages
// (budgets, usage and audit records) after them. Closers go on g.closers.
func buildGovernance(ctx context.Context, g *Gateway) (admission, accounting []gateway.Stage, err error) {
	return nil, nil, nil
}
