package app

import (
	"context"
	"fmt"
	"net/http"

	"github.com/switchyard/switchyard/internal/approval"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/govern"
	"github.com/switchyard/switchyard/internal/guard"
	"github.com/switchyard/switchyard/internal/mcpgw"
)

// buildGuardrails returns the agent-governance stages (DLP, policies, tool
// permissions, approvals) and the MCP gateway handler (nil when no MCP
// servers are configured). Closers go on g.closers.
func buildGuardrails(ctx context.Context, g *Gateway) (stages []gateway.Stage, mcp http.Handler, err error) {
	cfg := &g.cfg.Guardrails
	eng := cfg.PolicyEngine()
	ap := cfg.Approvals
	var notifier approval.Notifier
	if ap.WebhookURL != "" || ap.SlackWebhookURL != "" {
		notifier = &approval.Webhooks{URL: ap.WebhookURL, SlackURL: ap.SlackWebhookURL, Client: g.client, Logger: g.log}
	}
	svc := approval.New(approval.Options{
		Store: g.store, Notifier: notifier, Timeout: ap.Timeout, PollInterval: ap.PollInterval, Logger: g.log,
	})
	g.closers = append(g.closers, svc.Close)
	if n, err := svc.ExpireOverdue(ctx); err != nil {
		return nil, nil, fmt.Errorf("expiring overdue approvals: %w", err)
	} else if n > 0 {
		g.log.Info("expired approvals left pending by a previous run", "count", n)
	}
	opts := guard.Options{Policy: eng, Approvals: svc, Mode: ap.Mode, HTTPClient: g.client, Logger: g.log}
	if d := cfg.DLP; d != nil {
		opts.DLP = &guard.DLPOptions{Config: d.Config, Overrides: d.Overrides, Hook: d.Hook}
	}
	gd, err := guard.New(opts)
	if err != nil {
		return nil, nil, err
	}
	svc.SetPolicyVersion(gd.PolicyVersion)
	g.guard, g.approvals = gd, svc
	if len(cfg.MCP.Servers) == 0 {
		return gd.Stages(), nil, nil
	}
	mopts := mcpgw.Options{Servers: cfg.MCP.Servers, Guard: gd.Tools(), Logger: g.log.With("component", "mcp"), HTTPClient: g.client}
	if g.gov != nil {
		mopts.Audit = govern.AdminAuditor(g.gov)
	}
	mg, err := mcpgw.New(mopts)
	if err != nil {
		return nil, nil, fmt.Errorf("mcp: %w", err)
	}
	g.closers = append(g.closers, mg.Close)
	return gd.Stages(), mg.Handler(), nil
}

// Approvals returns the approval service: the admin API's
// ApprovalDecider.
func (g *Gateway) Approvals() *approval.Service { return g.approvals }

// Guard returns the guardrails, for the MCP gateway's tool checks.
func (g *Gateway) Guard() *guard.Guard { return g.guard }
