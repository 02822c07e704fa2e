// Package guard puts the agent guardrails on the gateway's request path:
// data loss prevention on prompts, tool traffic and answers (with
// redact-and-restore), CEL policies on requests, declared tools and tool
// calls, and approvals for tool calls that need a person's yes.
//
// The stages work on canonical (OpenAI-shaped) requests and answers, so
// both front doors are covered: a tool call blocked here reaches an
// Anthropic client as a text block.
//
// Order: the DLP stage comes first, so the policy stage sees its findings
// (dlp.findings) and, on answers, sees restored tool-call arguments.
//
// Rules on request.deployment, request.provider and request.region: the
// pool's deployment is chosen after the before-stages, so request rules
// see these fields empty (a rule testing them does not match). Restrict
// where a request goes with route rules (alias, key, team, time, cost,
// DLP) or the key's allowed providers and regions. Tool rules evaluated on
// an answer do see the deployment that answered.
//
// Audit: decisions are kept in the Call state under StateFindings
// ("dlp.findings", []Finding) and StateDecisions ("policy.decisions",
// []Decision), for the audit stage that runs after the guard.
package guard

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/switchyard/switchyard/internal/approval"
	"github.com/switchyard/switchyard/internal/dlp"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/policy"
)

// Call state keys for the audit record.
const (
	StateFindings  = "dlp.findings"
	StateDecisions = "policy.decisions"
)

// Approval modes (see config.Approvals).
const (
	ModeWait  = "wait"
	ModeAsync = "async"
)

// HeaderApprovalID names the held approval in answers and resubmissions.
const HeaderApprovalID = "X-Switchyard-Approval-Id"

// DLPOptions configure the DLP stage.
type DLPOptions struct {
	// Config selects detectors and actions.
	Config dlp.Config
	// Overrides are per team ("team:<id>") or key ("key:<id>") actions; a
	// key's override wins over its team's.
	Overrides map[string]map[string]dlp.Action
	// Hook is an external DLP service; or nil.
	Hook *dlp.HookConfig
}

// Options configure the guard.
type Options struct {
	// DLP turns data loss prevention on; nil leaves it off (a policy
	// redact rule still redacts, with the built-in detectors).
	DLP *DLPOptions
	// Policy is the compiled rule set; nil allows everything.
	Policy *policy.Engine
	// Approvals holds tool calls that need approval; nil makes
	// require_approval deny.
	Approvals *approval.Service
	// Mode is ModeWait (default) or ModeAsync.
	Mode string
	// HTTPClient calls the DLP hook; nil is http.DefaultClient.
	HTTPClient *http.Client
	// Logger is non-nil in production; nil discards.
	Logger *slog.Logger
}

// Guard is the set of guardrail stages over one configuration.
type Guard struct {
	dlp    *dlpStage
	policy *policyStage
	tools  *ToolGuard
}

// New builds the guard.
func New(opts Options) (*Guard, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Mode == "" {
		opts.Mode = ModeWait
	}
	if opts.Mode != ModeWait && opts.Mode != ModeAsync {
		return nil, fmt.Errorf("guard: approval mode %q: use wait or async", opts.Mode)
	}
	d, err := newDLPStage(opts)
	if err != nil {
		return nil, err
	}
	p := &policyStage{dlp: d, approvals: opts.Approvals, mode: opts.Mode, log: opts.Logger}
	eng := opts.Policy
	if eng == nil {
		if eng, err = policy.Compile(nil); err != nil {
			return nil, err
		}
	}
	p.engine.Store(eng)
	g := &Guard{dlp: d, policy: p}
	g.tools = &ToolGuard{g: g}
	return g, nil
}

// Stages returns the gateway stages, DLP first.
func (g *Guard) Stages() []gateway.Stage { return []gateway.Stage{g.dlp, g.policy} }

// SetPolicy swaps the rule set, as a reload does; approvals raised under
// the old version can no longer release calls.
func (g *Guard) SetPolicy(e *policy.Engine) { g.policy.engine.Store(e) }

// PolicyVersion returns the version of the rules in force.
func (g *Guard) PolicyVersion() string { return g.policy.engine.Load().Version() }

// Tools returns the checker the MCP gateway calls for each tool call.
func (g *Guard) Tools() *ToolGuard { return g.tools }

// Finding is one DLP finding as audited: never the value.
type Finding struct {
	Detector string     `json:"detector"`
	Action   dlp.Action `json:"action"`
	// Where is "request", "response" or "hook".
	Where string `json:"where"`
}

// Decision is one policy decision as audited.
type Decision struct {
	// Kind is "request", "tool_declared", "tool_call" or "approval".
	Kind    string        `json:"kind"`
	Tool    string        `json:"tool,omitempty"`
	Effect  policy.Effect `json:"effect"`
	Rule    string        `json:"rule,omitempty"`
	Message string        `json:"message,omitempty"`
	// ApprovalID and Outcome (approved, denied, expired, pending) are set
	// for approvals.
	ApprovalID string `json:"approval_id,omitempty"`
	Outcome    string `json:"outcome,omitempty"`
}

func addFindings(c *gateway.Call, where string, fs []dlp.Finding) {
	if len(fs) == 0 {
		return
	}
	l, _ := c.Get(StateFindings).([]Finding)
	for _, f := range fs {
		l = append(l, Finding{Detector: f.Detector, Action: f.Action, Where: where})
	}
	c.Set(StateFindings, l)
}

func addDecision(c *gateway.Call, d Decision) {
	l, _ := c.Get(StateDecisions).([]Decision)
	c.Set(StateDecisions, append(l, d))
}

// blockedError turns a DLP block into the client's 400: it names the
// detector, never the value.
func blockedError(err error, param string) error {
	var be *dlp.BlockedError
	if errors.As(err, &be) {
		e := llm.BadRequest(param, "%s", be.Error())
		e.Code = "dlp_blocked"
		return e
	}
	var he *dlp.HookError
	if errors.As(err, &he) {
		e := llm.Errorf(http.StatusServiceUnavailable, "the data loss prevention service could not check this request, and the gateway is configured to refuse what it cannot check; try again later")
		e.Code = "dlp_unavailable"
		return e
	}
	return err
}

func policyDenied(msg string) *llm.Error {
	e := llm.Errorf(http.StatusForbidden, "%s", msg)
	e.Code = "policy_denied"
	return e
}
