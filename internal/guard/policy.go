package guard

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/switchyard/switchyard/internal/approval"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/policy"
	"github.com/switchyard/switchyard/internal/store"
)

// policyStage evaluates request rules, declared tools and the tool calls
// in answers, and holds calls for approval.
type policyStage struct {
	engine    atomic.Pointer[policy.Engine]
	dlp       *dlpStage
	approvals *approval.Service
	mode      string
	log       *slog.Logger
}

func (p *policyStage) Name() string { return "policy" }

// input is what rules see of the call. Before routing, deployment,
// provider and region are empty (see the package documentation).
func (p *policyStage) input(c *gateway.Call) policy.RequestInput {
	in := policy.RequestInput{Alias: c.Alias, Time: c.Start}
	if caller := c.Info.Caller; caller != nil {
		in.KeyID, in.Team, in.Org, in.Metadata = caller.KeyID, caller.TeamID, caller.OrgID, caller.Metadata
	}
	if c.Chat != nil {
		in.Stream = c.Chat.Stream
		in.EstimatedCostUSD = estimatedCost(c)
	}
	if d := c.Deployment; d != nil {
		in.Deployment, in.Provider, in.Region = d.Name, d.Provider, d.Region
	}
	fs, _ := c.Get(StateFindings).([]Finding)
	for _, f := range fs {
		if f.Where != "response" {
			in.DLP.Findings = append(in.DLP.Findings, f.Detector)
		}
	}
	return in
}

// estimatedCost prices the estimated prompt and the output cap at the
// dearest deployment of the pool, so a cost rule errs on the safe side.
func estimatedCost(c *gateway.Call) float64 {
	rt := c.Router()
	if rt == nil {
		return 0
	}
	in, out := float64(c.Requirements.EstimatedInputTokens), float64(c.Requirements.MaxOutputTokens)
	best := 0.0
	for _, d := range rt.Pool(c.Alias) {
		best = max(best, (in*d.Price.InputPerMTok+out*d.Price.OutputPerMTok)/1e6)
	}
	return best
}

func (p *policyStage) logErrors(ctx context.Context, c *gateway.Call, d policy.Decision) {
	for _, err := range d.Errors {
		p.log.WarnContext(ctx, "policy rule failed to evaluate (treated as not matching)", "request_id", c.Info.ID, "error", err)
	}
}

// Before applies the request rules, then the tool rules to the declared
// tools, then checks a resubmitted approval.
func (p *policyStage) Before(ctx context.Context, c *gateway.Call) error {
	if c.Chat == nil {
		return nil
	}
	eng := p.engine.Load()
	in := p.input(c)
	d := eng.EvaluateRequest(in)
	p.logErrors(ctx, c, d)
	if d.Rule != "" {
		addDecision(c, Decision{Kind: "request", Effect: d.Effect, Rule: d.Rule, Message: d.Message})
	}
	switch d.Effect {
	case policy.EffectDeny:
		return policyDenied(d.Message)
	case policy.EffectRoute:
		c.Alias = d.Pool
	case policy.EffectRedact:
		if err := p.dlp.redact(c); err != nil {
			return blockedError(err, "messages")
		}
	}
	if err := p.declaredTools(ctx, c, eng, in); err != nil {
		return err
	}
	if c.Info.ApprovalID != "" {
		if err := p.loadResume(ctx, c, eng); err != nil {
			return err
		}
	}
	if d.Effect == policy.EffectRequireApproval {
		return p.holdRequest(ctx, c, eng, d)
	}
	return nil
}

// declaredTools removes or rejects the tools a tool rule denies (judged
// by name alone: the arguments are not known yet).
func (p *policyStage) declaredTools(ctx context.Context, c *gateway.Call, eng *policy.Engine, in policy.RequestInput) error {
	if len(c.Chat.Tools) == 0 {
		return nil
	}
	var keep []llm.Tool
	var removed []string
	for _, t := range c.Chat.Tools {
		d := eng.EvaluateTool(in, policy.ToolInput{Name: t.Function.Name})
		p.logErrors(ctx, c, d)
		if d.Effect != policy.EffectDeny {
			keep = append(keep, t)
			continue
		}
		addDecision(c, Decision{Kind: "tool_declared", Tool: t.Function.Name, Effect: d.Effect, Rule: d.Rule, Message: d.Message})
		if eng.ToolPolicy().OnForbiddenDeclared != "remove" {
			e := policyDenied("the request declares tool " + t.Function.Name + ", which policy forbids: " + d.Message + "; remove the tool from the request")
			e.Param = "tools"
			return e
		}
		removed = append(removed, t.Function.Name)
	}
	if len(removed) == 0 {
		return nil
	}
	cp := *c.Chat
	cp.Tools = keep
	if tc := cp.ToolChoice; len(keep) == 0 || (tc != nil && slices.Contains(removed, tc.Function)) {
		cp.ToolChoice = nil
	}
	if len(keep) == 0 {
		cp.ParallelToolCalls = nil
	}
	c.Chat = &cp
	p.log.InfoContext(ctx, "removed tools the policy forbids", "request_id", c.Info.ID, "tools", removed)
	return nil
}

// requestDigest binds a request-level approval, and a resubmission, to
// the request as it leaves (after DLP).
func requestDigest(c *gateway.Call) string {
	b, _ := json.Marshal(struct {
		Model    string        `json:"model"`
		Messages []llm.Message `json:"messages"`
		Tools    []llm.Tool    `json:"tools,omitempty"`
	}{c.Alias, c.Chat.Messages, c.Chat.Tools})
	return approval.Digest(approval.Call{Name: "request", Arguments: string(b)})
}

// holdRequest handles a request rule's require_approval.
func (p *policyStage) holdRequest(ctx context.Context, c *gateway.Call, eng *policy.Engine, d policy.Decision) error {
	if p.approvals == nil {
		return approvalError(http.StatusForbidden, "approval_denied", d.Message+" (no approval workflow is configured on this gateway, so the request cannot go ahead)")
	}
	digest := requestDigest(c)
	a, ok := resumeFor(c)
	if !ok || a.Tool != "" || approval.Check(a, digest, eng.Version(), p.now()) != nil {
		var err error
		a, err = p.approvals.Create(ctx, approval.Request{
			KeyID: keyID(c), TeamID: teamID(c), Digest: digest, PolicyVersion: eng.Version(), Reason: d.Message,
			Arguments: p.dlp.display(lastUser(c.Chat)),
		})
		if err != nil {
			return err
		}
	}
	if a.Status == store.ApprovalPending && p.mode == ModeWait {
		var err error
		if a, err = p.approvals.Wait(ctx, a.ID); err != nil {
			return err
		}
	}
	addDecision(c, Decision{Kind: "approval", Effect: d.Effect, Rule: d.Rule, Message: d.Message, ApprovalID: a.ID, Outcome: a.Status})
	switch a.Status {
	case store.ApprovalApproved:
		return nil
	case store.ApprovalPending:
		c.Headers.Set(HeaderApprovalID, a.ID)
		return approvalError(http.StatusForbidden, "approval_pending", "this request needs approval ("+d.Message+"); approval "+a.ID+" is pending: resubmit the same request with header x-switchyard-approval-id: "+a.ID+" once it is decided")
	}
	return approvalError(http.StatusForbidden, "approval_denied", "this request needed approval ("+d.Message+") and approval "+a.ID+" was "+outcomeText(a)+"; ask an approver, then send the request again")
}

func approvalError(status int, code, msg string) *llm.Error {
	e := llm.Errorf(status, "%s", msg)
	e.Code = code
	return e
}

func outcomeText(a store.Approval) string {
	switch a.Status {
	case store.ApprovalDenied:
		s := "denied"
		if a.DecidedBy != "" {
			s += " by " + a.DecidedBy
		}
		if a.Comment != "" {
			s += " (" + a.Comment + ")"
		}
		return s
	case store.ApprovalExpired:
		return "not decided in time"
	}
	return a.Status
}

func keyID(c *gateway.Call) string {
	if c.Info.Caller != nil {
		return c.Info.Caller.KeyID
	}
	return ""
}

func teamID(c *gateway.Call) string {
	if c.Info.Caller != nil {
		return c.Info.Caller.TeamID
	}
	return ""
}

func lastUser(req *llm.ChatRequest) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == llm.RoleUser {
			return req.Messages[i].Content.String()
		}
	}
	return ""
}

// joinNotes appends the notes to an assistant message's text.
func joinNotes(text string, notes []string) string {
	all := strings.Join(notes, "\n")
	if text == "" {
		return all
	}
	return text + "\n\n" + all
}
