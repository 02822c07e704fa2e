package guard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/switchyard/switchyard/internal/approval"
	"github.com/switchyard/switchyard/internal/dlp"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/policy"
	"github.com/switchyard/switchyard/internal/store"
)

// ToolGuard checks tool calls that do not come from a model answer: the
// MCP gateway calls it for every tools/call it forwards. Approvals always
// wait here (an MCP client has no resubmission header).
type ToolGuard struct {
	g *Guard
}

// call is a stand-in gateway call, so MCP traffic sees the same per-key
// DLP overrides and rule inputs as chat traffic.
func (t *ToolGuard) call(caller *gateway.Caller) *gateway.Call {
	return &gateway.Call{Info: &gateway.RequestInfo{Caller: caller}, Kind: "mcp", Headers: http.Header{}}
}

// CheckCall applies the tool rules (to "server.tool" and to the bare tool
// name; the stricter decision wins), DLP on the arguments (block, or mask
// and redact: the server receives masked values, since nothing would
// restore them), and approvals. It returns the arguments to forward, or
// an *llm.Error: 403 policy_denied, 400 dlp_blocked or 403
// approval_denied.
func (t *ToolGuard) CheckCall(ctx context.Context, caller *gateway.Caller, server, tool string, args json.RawMessage) (json.RawMessage, error) {
	c := t.call(caller)
	p := t.g.policy
	eng := p.engine.Load()
	in := p.input(c)
	ti, _ := policy.ToolFromJSON(tool, string(args))
	d := eng.EvaluateTool(in, policy.ToolInput{Name: server + "." + tool, Arguments: ti.Arguments})
	if bare := eng.EvaluateTool(in, ti); stricter(bare.Effect, d.Effect) {
		d = bare
	}
	p.logErrors(ctx, c, d)
	switch d.Effect {
	case policy.EffectDeny:
		return nil, policyDenied("tool " + server + "." + tool + ": " + d.Message)
	case policy.EffectRequireApproval:
		if p.approvals == nil {
			return nil, approvalError(http.StatusForbidden, "approval_denied", "tool "+server+"."+tool+" needs approval ("+d.Message+") and this gateway has no approval workflow")
		}
	}
	out := args
	if sc := t.g.dlp.scanner(c); sc != nil && len(args) > 0 {
		text, _, err := sc.Apply(string(args), nil)
		if err != nil {
			return nil, blockedError(err, "arguments")
		}
		out = json.RawMessage(text)
	}
	if d.Effect != policy.EffectRequireApproval {
		return out, nil
	}
	name := server + "." + tool
	a, err := p.approvals.Create(ctx, approval.Request{
		KeyID: keyID(c), TeamID: teamID(c), Tool: name, Arguments: t.g.dlp.display(string(args)),
		Digest: approval.Digest(approval.Call{Name: name, Arguments: string(args)}), PolicyVersion: eng.Version(), Reason: d.Message,
	})
	if err != nil {
		return nil, err
	}
	if a, err = p.approvals.Wait(ctx, a.ID); err != nil {
		return nil, err
	}
	if a.Status == store.ApprovalApproved && approval.Check(a, a.Digest, p.engine.Load().Version(), p.now()) == nil {
		return out, nil
	}
	return nil, approvalError(http.StatusForbidden, "approval_denied", "tool "+name+" needed approval ("+d.Message+") and approval "+a.ID+" was "+outcomeText(a))
}

// stricter reports whether effect a takes precedence over b.
func stricter(a, b policy.Effect) bool {
	rank := func(e policy.Effect) int {
		switch e {
		case policy.EffectDeny:
			return 0
		case policy.EffectRequireApproval:
			return 1
		case policy.EffectRoute, policy.EffectRedact:
			return 2
		}
		return 3
	}
	return rank(a) < rank(b)
}

// CheckResult applies DLP to a tool's result before it reaches the
// client: block is a 400 dlp_blocked, mask and redact mask.
func (t *ToolGuard) CheckResult(ctx context.Context, caller *gateway.Caller, server, tool string, result json.RawMessage) (json.RawMessage, error) {
	sc := t.g.dlp.scanner(t.call(caller))
	if sc == nil || len(result) == 0 {
		return result, nil
	}
	text, _, err := sc.Apply(string(result), nil)
	var be *dlp.BlockedError
	if errors.As(err, &be) {
		le := llm.BadRequest("result", "blocked by data loss prevention: the result of tool %s.%s contained data detected as %q, which this gateway does not allow to be returned", server, tool, be.Detector)
		le.Code = "dlp_blocked"
		return nil, le
	}
	if err != nil {
		return nil, err
	}
	return json.RawMessage(text), nil
}
