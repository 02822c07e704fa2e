package app

import (
	"context"
	"net/http"

	"github.com/switchyard/switchyard/internal/gateway"
)

// buildGuardrails returns the agent-governance stages (DLP, policies, tool
// permissions, approvals) and the MCP gateway handler (nil when no MCP
// servers are configured). Closers go on g.closers.
func buildGuardrails(ctx context.Context, g *Gateway) (stages []gateway.Stage, mcp http.Handler, err error) {
	return nil, nil, nil
}
