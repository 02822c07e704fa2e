package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/approval"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/policy"
	"github.com/switchyard/switchyard/internal/store"
)

// stateResume keeps the approval a resubmitted request names.
const stateResume = "approval.resume"

// heldPayload is what an approval keeps in store.Approval.Payload, so
// that the held answer survives a restart.
type heldPayload struct {
	// RequestDigest binds a resubmission to the request that was held.
	RequestDigest string `json:"request_digest"`
	// HeldCalls are the ids of the calls awaiting the decision.
	HeldCalls []string `json:"held_calls,omitempty"`
	// Answer is the answer to release, awaiting calls included.
	Answer *llm.ChatResponse `json:"answer,omitempty"`
}

type resume struct {
	a    store.Approval
	held heldPayload
}

func (p *policyStage) now() time.Time { return time.Now() }

func resumeFor(c *gateway.Call) (store.Approval, bool) {
	r, _ := c.Get(stateResume).(*resume)
	if r == nil {
		return store.Approval{}, false
	}
	return r.a, true
}

// loadResume checks the approval a resubmitted request names: it must
// belong to the caller's key, have been raised under the rules in force,
// and be for this very request.
func (p *policyStage) loadResume(ctx context.Context, c *gateway.Call, eng *policy.Engine) error {
	id := c.Info.ApprovalID
	if p.approvals == nil {
		return approvalError(http.StatusBadRequest, "approval_not_found", "this gateway has no approval workflow; send the request without the x-switchyard-approval-id header")
	}
	a, err := p.approvals.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return approvalError(http.StatusNotFound, "approval_not_found", "approval "+id+" does not exist; send the request without the x-switchyard-approval-id header to ask anew")
	}
	if err != nil {
		return err
	}
	if a.KeyID != keyID(c) {
		return approvalError(http.StatusForbidden, "approval_mismatch", "approval "+id+" was raised for another API key; use the key that made the original request")
	}
	if a.PolicyVersion != eng.Version() {
		return approvalError(http.StatusConflict, "approval_stale", "approval "+id+" was given under rules that have since changed; send the request without the x-switchyard-approval-id header to ask anew")
	}
	var h heldPayload
	if len(a.Payload) > 0 {
		if err := json.Unmarshal(a.Payload, &h); err != nil {
			return fmt.Errorf("guard: approval %s: reading the held answer: %w", id, err)
		}
	}
	want := h.RequestDigest
	if a.Tool == "" {
		want = a.Digest
	}
	if want != requestDigest(c) {
		return approvalError(http.StatusConflict, "approval_mismatch", "approval "+id+" was given for a different request; resubmit exactly the request that was held, or drop the x-switchyard-approval-id header to ask anew")
	}
	c.Set(stateResume, &resume{a: a, held: h})
	return nil
}

// verdict is what happens to one message's tool calls.
type verdict struct {
	kept  []llm.ToolCall
	notes []string // what the client is told about calls it does not get
}

// heldFunc builds the answer to hold, given the calls awaiting approval
// and the notes so far.
type heldFunc func(awaiting []llm.ToolCall, notes []string) *llm.ChatResponse

// judge evaluates each tool call of one message, and raises and settles
// an approval for those that need one.
func (p *policyStage) judge(ctx context.Context, c *gateway.Call, calls []llm.ToolCall, held heldFunc) (verdict, error) {
	eng := p.engine.Load()
	in := p.input(c)
	var v verdict
	var awaiting []llm.ToolCall
	var reasons []string
	var rule string
	for _, tc := range calls {
		ti, err := policy.ToolFromJSON(tc.Function.Name, tc.Function.Arguments)
		if err != nil {
			p.log.WarnContext(ctx, "tool call arguments are not a JSON object; rules on arguments will not match", "request_id", c.Info.ID, "tool", tc.Function.Name)
		}
		d := eng.EvaluateTool(in, ti)
		p.logErrors(ctx, c, d)
		if d.Rule != "" {
			addDecision(c, Decision{Kind: "tool_call", Tool: tc.Function.Name, Effect: d.Effect, Rule: d.Rule, Message: d.Message})
		}
		switch {
		case d.Effect == policy.EffectDeny, d.Effect == policy.EffectRequireApproval && p.approvals == nil:
			v.notes = append(v.notes, fmt.Sprintf("The call to tool %s was blocked by policy: %s", tc.Function.Name, d.Message))
		case d.Effect == policy.EffectRequireApproval:
			awaiting = append(awaiting, tc)
			reasons = append(reasons, d.Message)
			rule = d.Rule
		default:
			v.kept = append(v.kept, tc)
		}
	}
	if len(awaiting) == 0 {
		return v, nil
	}
	digest := callsDigest(awaiting)
	a, ok := resumeFor(c)
	if !ok || a.Tool == "" || approval.Check(a, digest, eng.Version(), p.now()) != nil {
		payload, err := json.Marshal(heldPayload{RequestDigest: requestDigest(c), HeldCalls: callIDs(awaiting), Answer: held(awaiting, v.notes)})
		if err != nil {
			return v, err
		}
		if a, err = p.approvals.Create(ctx, approval.Request{
			KeyID: keyID(c), TeamID: teamID(c), Tool: strings.Join(callNames(awaiting), ", "),
			Arguments: p.displayArgs(awaiting), Digest: digest, PolicyVersion: eng.Version(),
			Reason: strings.Join(slices.Compact(reasons), "; "), Payload: payload,
		}); err != nil {
			return v, err
		}
	}
	release, note, err := p.settle(ctx, c, a, digest, rule)
	if err != nil {
		return v, err
	}
	if release {
		v.kept = append(v.kept, awaiting...)
	} else {
		v.notes = append(v.notes, note)
	}
	return v, nil
}

// settle waits for the decision (in wait mode) and says whether the
// calls are released, and if not, what to tell the client.
func (p *policyStage) settle(ctx context.Context, c *gateway.Call, a store.Approval, digest, rule string) (bool, string, error) {
	if a.Status == store.ApprovalPending && p.mode == ModeWait {
		var err error
		if a, err = p.approvals.Wait(ctx, a.ID); err != nil {
			return false, "", err
		}
	}
	addDecision(c, Decision{Kind: "approval", Tool: a.Tool, Effect: policy.EffectRequireApproval, Rule: rule, Message: a.Reason, ApprovalID: a.ID, Outcome: a.Status})
	if err := approval.Check(a, digest, p.engine.Load().Version(), p.now()); err != nil && a.Status != store.ApprovalExpired {
		return false, fmt.Sprintf("The call to tool %s was blocked: approval %s cannot release it (%v).", a.Tool, a.ID, err), nil
	}
	switch a.Status {
	case store.ApprovalApproved:
		return true, "", nil
	case store.ApprovalPending:
		c.Headers.Set(HeaderApprovalID, a.ID)
		return false, fmt.Sprintf("The call to tool %s needs approval (%s). Approval %s is pending: resubmit this request with header x-switchyard-approval-id: %s once it is decided.", a.Tool, a.Reason, a.ID, a.ID), nil
	}
	return false, fmt.Sprintf("The call to tool %s was blocked by policy: approval %s was %s.", a.Tool, a.ID, outcomeText(a)), nil
}

func callsDigest(calls []llm.ToolCall) string {
	cs := make([]approval.Call, len(calls))
	for i, tc := range calls {
		cs[i] = approval.Call{Name: tc.Function.Name, Arguments: tc.Function.Arguments}
	}
	return approval.Digest(cs...)
}

func callIDs(calls []llm.ToolCall) []string {
	out := make([]string, len(calls))
	for i, tc := range calls {
		out[i] = tc.ID
	}
	return out
}

func callNames(calls []llm.ToolCall) []string {
	out := make([]string, len(calls))
	for i, tc := range calls {
		out[i] = tc.Function.Name
	}
	return out
}

// displayArgs shows approvers the arguments with every DLP finding
// masked: one call's arguments, or a list of {name, arguments}.
func (p *policyStage) displayArgs(calls []llm.ToolCall) string {
	if len(calls) == 1 {
		return p.dlp.display(calls[0].Function.Arguments)
	}
	type shown struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
	l := make([]shown, len(calls))
	for i, tc := range calls {
		l[i] = shown{tc.Function.Name, p.dlp.display(tc.Function.Arguments)}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// applyVerdict rewrites an assistant message to carry only the kept calls
// and the notes; a message left without calls finishes with "stop".
func applyVerdict(m *llm.Message, finish *llm.FinishReason, v verdict) {
	m.ToolCalls = v.kept
	if len(v.notes) > 0 {
		m.Content = llm.TextContent(joinNotes(m.Content.String(), v.notes))
	}
	if len(v.kept) == 0 && *finish == llm.FinishToolCalls {
		*finish = llm.FinishStop
	}
}

// Answer judges the tool calls of a complete answer, or, for a
// resubmitted request, releases the held answer.
func (p *policyStage) Answer(ctx context.Context, c *gateway.Call, resp *llm.ChatResponse) error {
	if r, _ := c.Get(stateResume).(*resume); r != nil && r.a.Tool != "" && r.held.Answer != nil {
		out, err := p.resumed(ctx, c, r)
		if err != nil {
			return err
		}
		usage := resp.Usage
		*resp = *out
		resp.Usage = usage
		return nil
	}
	if !p.engine.Load().HasToolRules() {
		return nil
	}
	resp.Edit() // the answer is encoded anew, changed or not
	for i := range resp.Choices {
		ch := &resp.Choices[i]
		if len(ch.Message.ToolCalls) == 0 {
			continue
		}
		v, err := p.judge(ctx, c, ch.Message.ToolCalls, func(awaiting []llm.ToolCall, notes []string) *llm.ChatResponse {
			h := *resp
			h.Choices = slices.Clone(resp.Choices)
			hc := &h.Choices[i]
			applyVerdict(&hc.Message, &hc.FinishReason, verdict{kept: awaiting, notes: notes})
			return &h
		})
		if err != nil {
			return err
		}
		applyVerdict(&ch.Message, &ch.FinishReason, v)
	}
	return nil
}

// resumed settles the approval a resubmission names and returns the held
// answer: with the held calls when approved, without them otherwise.
func (p *policyStage) resumed(ctx context.Context, c *gateway.Call, r *resume) (*llm.ChatResponse, error) {
	h := *r.held.Answer
	h.Choices = slices.Clone(h.Choices)
	var awaiting []llm.ToolCall
	for _, ch := range h.Choices {
		for _, tc := range ch.Message.ToolCalls {
			if slices.Contains(r.held.HeldCalls, tc.ID) {
				awaiting = append(awaiting, tc)
			}
		}
	}
	release, note, err := p.settle(ctx, c, r.a, callsDigest(awaiting), "")
	if err != nil || release {
		return &h, err
	}
	for i := range h.Choices {
		ch := &h.Choices[i]
		var v verdict
		for _, tc := range ch.Message.ToolCalls {
			if !slices.Contains(r.held.HeldCalls, tc.ID) {
				v.kept = append(v.kept, tc)
			}
		}
		if len(v.kept) < len(ch.Message.ToolCalls) {
			v.notes = []string{note}
		}
		applyVerdict(&ch.Message, &ch.FinishReason, v)
	}
	return &h, nil
}
