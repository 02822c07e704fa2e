package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/route"
)

// A Stage is one governance step around model calls: rate limits, budgets,
// policy, DLP, usage and audit records. A stage implements any of
// BeforeStage, AnswerStage, StreamStage and AfterStage; the gateway calls
// each that it implements, in the order the stages were given.
type Stage interface {
	// Name identifies the stage in logs and audit records.
	Name() string
}

// BeforeStage runs before routing. It may refuse the call (return an
// *llm.Error), rewrite the request (Call.Chat) or narrow where it may go
// (Call.Requirements, Call.Alias).
type BeforeStage interface {
	Stage
	Before(ctx context.Context, c *Call) error
}

// AnswerStage inspects or rewrites a complete answer before the client
// sees it; an error replaces the answer.
type AnswerStage interface {
	Stage
	Answer(ctx context.Context, c *Call, resp *llm.ChatResponse) error
}

// StreamStage wraps a streamed answer, to inspect or rewrite its chunks.
type StreamStage interface {
	Stage
	Stream(ctx context.Context, c *Call, s llm.ChatStream) llm.ChatStream
}

// AfterStage runs exactly once per call, when the outcome is known: usage,
// cost, status. It also runs for calls refused before any other stage ran
// (a model the key may not use), so it must not assume Before ran. It must
// not block.
type AfterStage interface {
	Stage
	After(ctx context.Context, c *Call)
}

// Call is one model request on its way through the gateway, shared by the
// stages. Stages run one after another, never at once, so Call needs no lock.
type Call struct {
	// Info is the request id and the caller.
	Info *RequestInfo
	// Kind is "chat" or "embeddings".
	Kind string
	// Chat is the chat request; stages may replace it. Nil for embeddings
	// (Kind "embeddings"), whose stages see only the alias and caller.
	Chat *llm.ChatRequest
	// Alias is the model alias being routed; Version a pinned version or "".
	Alias, Version string
	// Requirements constrain which deployments may answer.
	Requirements route.Requirements
	// Start is when the gateway took the call.
	Start time.Time

	// Set once routing is done:

	// Deployment answered (or was the last one tried); nil if none was.
	Deployment *route.Deployment
	// Attempts counts upstream attempts, hedges and failovers included.
	Attempts int
	// Hedged marks a call that also sent a hedge request to a second
	// deployment; the loser was cancelled, and what the provider bills
	// for a cancelled request is unknown to the gateway.
	Hedged bool
	// Usage is the answer's usage, when known.
	Usage *llm.Usage
	// Err is the call's failure, or nil.
	Err error
	// FinishReason of the first choice, when known.
	FinishReason string
	// Headers are extra response headers stages want the client to see
	// (rate-limit state, for instance).
	Headers http.Header

	router *route.Router
	state  map[string]any
}

// Set keeps a stage's own state for this call under key.
func (c *Call) Set(key string, v any) {
	if c.state == nil {
		c.state = map[string]any{}
	}
	c.state[key] = v
}

// Get returns what Set kept under key, or nil.
func (c *Call) Get(key string) any { return c.state[key] }

// Router returns the router this call is routed by.
func (c *Call) Router() *route.Router { return c.router }

// Status is the HTTP status the call ends with (200 on success).
func (c *Call) Status() int {
	if c.Err == nil {
		return http.StatusOK
	}
	if errors.Is(c.Err, context.Canceled) {
		return 499 // the client went away
	}
	return llm.AsError(c.Err).Status
}

// call is the gateway's handle on a Call while it runs.
type call struct {
	*Call
	g    *Gateway
	prov Provenance
	// alias and reqs are what the router is asked, fixed once the
	// before-stages ran (they may narrow Call's fields).
	alias string
	reqs  route.Requirements
}

// begin authorises the alias for the caller and prepares the call.
func (g *Gateway) begin(ctx context.Context, model string, reqs route.Requirements) (*call, error) {
	info := RequestInfoFrom(ctx)
	if info == nil {
		info = &RequestInfo{}
	}
	c := &call{g: g, Call: &Call{Info: info, Start: time.Now(), Headers: http.Header{}, Kind: "chat"}}
	c.prov = Provenance{RequestID: info.ID, Headers: c.Headers}
	c.Call.router = g.router.Load()
	alias, version := route.ParseModel(model)
	c.Alias, c.Version = alias, version
	reqs.PinnedVersion = version
	if caller := info.Caller; caller != nil {
		if !caller.AllowsModel(alias) {
			return c, llm.Errorf(http.StatusForbidden, "your key may not use model %q; it may use: %s", alias, strings.Join(caller.AllowedModels, ", ")).WithCode("model_not_allowed")
		}
		reqs.AllowedRegions = caller.AllowedRegions
		reqs.AllowedProviders = caller.AllowedProviders
		reqs.RequireZDR = caller.RequireZDR
		if info.Strategy != "" {
			if !caller.AllowRouteOverride {
				return c, llm.BadRequest("x-switchyard-strategy", "your key may not choose the routing strategy; ask an admin to allow route overrides on it")
			}
			reqs.Strategy = info.Strategy
		}
	}
	c.Requirements = reqs
	c.alias, c.reqs = alias, reqs
	return c, nil
}

// admit runs the before-stages on a chat request.
func (c *call) admit(ctx context.Context, req *llm.ChatRequest) error {
	c.Chat = req
	for _, s := range c.g.opts.Stages {
		if b, ok := s.(BeforeStage); ok {
			if err := b.Before(ctx, c.Call); err != nil {
				c.Err = err
				c.runAfter(ctx)
				return err
			}
		}
	}
	c.alias, c.reqs = c.Alias, c.Requirements
	return nil
}

// routed records where the router sent the call.
func (c *call) routed(out route.Outcome) {
	c.Deployment, c.Attempts, c.Hedged = out.Deployment, out.Attempts, out.Hedged
	c.prov.Attempts = out.Attempts
	if d := out.Deployment; d != nil {
		c.prov.Provider, c.prov.Deployment, c.prov.Region, c.prov.ModelVersion = d.Provider, d.Name, d.Region, d.ModelVersion
	}
}

// answer runs the answer-stages on a complete answer.
func (c *call) answer(ctx context.Context, resp *llm.ChatResponse) error {
	if len(resp.Choices) > 0 {
		c.FinishReason = string(resp.Choices[0].FinishReason)
	}
	for _, s := range c.g.opts.Stages {
		if a, ok := s.(AnswerStage); ok {
			if err := a.Answer(ctx, c.Call, resp); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish records the outcome and runs the after-stages.
func (c *call) finish(ctx context.Context, usage *llm.Usage, err error) {
	c.Usage, c.Err = usage, err
	c.runAfter(ctx)
}

func (c *call) runAfter(ctx context.Context) {
	for _, s := range c.g.opts.Stages {
		if a, ok := s.(AfterStage); ok {
			a.After(context.WithoutCancel(ctx), c.Call)
		}
	}
}

// requirementsFor derives what a deployment must support to serve req.
func requirementsFor(req *llm.ChatRequest) route.Requirements {
	r := route.Requirements{
		Tools:           len(req.Tools) > 0,
		Stream:          req.Stream,
		MaxOutputTokens: req.MaxOutputTokens(),
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type == "json_schema" {
		r.JSONSchema = true
	}
	size := 0
	for _, m := range req.Messages {
		if len(m.ToolCalls) > 0 || m.Role == llm.RoleTool {
			r.Tools = true
		}
		size += len(m.Content.Text)
		for _, p := range m.Content.Parts {
			size += len(p.Text)
			if p.Type == llm.PartImage {
				r.Vision = true
			}
		}
		for _, tc := range m.ToolCalls {
			size += len(tc.Function.Arguments)
		}
	}
	r.EstimatedInputTokens = size/4 + 4*len(req.Messages)
	return r
}

// String describes the call for logs.
func (c *Call) String() string {
	return fmt.Sprintf("%s %s (request %s)", c.Kind, c.Alias, c.Info.ID)
}
