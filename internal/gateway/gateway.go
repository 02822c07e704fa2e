// Package gateway is the request pipeline between the front doors and the
// providers: it checks what the caller may do, asks the router which
// deployment answers, calls the adapter (failing over through the router),
// and reports what happened to the governance stages.
//
// Data flows one way: front door -> gateway -> route -> provider adapter.
// The gateway imports no front door and no HTTP server code.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/route"
)

// Options configures a Gateway.
type Options struct {
	// Router picks deployments; required. Replace it with SetRouter on reload.
	Router *route.Router
	// AttemptTimeout bounds one upstream attempt: a whole non-streamed
	// answer, or a stream until its first chunk. Default 120s.
	AttemptTimeout time.Duration
	// Stages are the governance stages run around every model call, in
	// order; nil entries are skipped.
	Stages []Stage
	// Logger is non-nil.
	Logger *slog.Logger
}

// Gateway runs requests through routing and the adapters. It is safe for
// concurrent use.
type Gateway struct {
	router atomic.Pointer[route.Router]
	opts   Options
	log    *slog.Logger
}

// New returns a Gateway.
func New(opts Options) *Gateway {
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = 120 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{opts: opts, log: opts.Logger}
	g.router.Store(opts.Router)
	return g
}

// SetRouter swaps the router, as a config reload does. Requests in flight
// finish on the router they started with.
func (g *Gateway) SetRouter(r *route.Router) { g.router.Store(r) }

// Router returns the current router.
func (g *Gateway) Router() *route.Router { return g.router.Load() }

// Models returns the aliases the caller in ctx may use.
func (g *Gateway) Models(ctx context.Context) []string {
	caller := callerFrom(ctx)
	var out []string
	for _, a := range g.router.Load().Aliases() {
		if caller.AllowsModel(a) {
			out = append(out, a)
		}
	}
	return out
}

// Chat answers a non-streamed chat completion.
func (g *Gateway) Chat(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, Provenance, error) {
	call, err := g.begin(ctx, req.Model, requirementsFor(req))
	if err != nil {
		call.finish(ctx, nil, err)
		return nil, call.prov, err
	}
	if err := call.admit(ctx, req); err != nil {
		return nil, call.prov, err
	}
	var results sync.Map // *route.Deployment -> *llm.ChatResponse (hedged attempts run at once)
	out, err := call.router.Do(ctx, call.alias, call.reqs, func(actx context.Context, d *route.Deployment) error {
		actx, cancel := context.WithTimeout(actx, g.opts.AttemptTimeout)
		defer cancel()
		resp, err := d.Backend.ChatCompletion(actx, call.Chat)
		if err != nil {
			return attemptError(actx, d, err)
		}
		results.Store(d, resp)
		return nil
	})
	call.routed(out)
	if err != nil {
		call.finish(ctx, nil, err)
		return nil, call.prov, err
	}
	v, _ := results.Load(out.Deployment)
	resp := v.(*llm.ChatResponse)
	out.Deployment.ObserveUsage(totalTokens(resp.Usage), resp.Upstream.RateLimit)
	if err := call.answer(ctx, resp); err != nil {
		call.finish(ctx, resp.Usage, err)
		return nil, call.prov, err
	}
	call.finish(ctx, resp.Usage, nil)
	return resp, call.prov, nil
}

// Embeddings answers an embeddings request.
func (g *Gateway) Embeddings(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, Provenance, error) {
	call, err := g.begin(ctx, req.Model, route.Requirements{Embeddings: true})
	if err != nil {
		call.finish(ctx, nil, err)
		return nil, call.prov, err
	}
	call.Kind = "embeddings"
	if err := call.admit(ctx, nil); err != nil {
		return nil, call.prov, err
	}
	var results sync.Map
	out, err := call.router.Do(ctx, call.alias, call.reqs, func(actx context.Context, d *route.Deployment) error {
		e, ok := d.Backend.(provider.Embedder)
		if !ok {
			return llm.Errorf(http.StatusBadRequest, "deployment %s (%s) does not serve embeddings", d.Name, d.Provider)
		}
		actx, cancel := context.WithTimeout(actx, g.opts.AttemptTimeout)
		defer cancel()
		resp, err := e.Embeddings(actx, req)
		if err != nil {
			return attemptError(actx, d, err)
		}
		results.Store(d, resp)
		return nil
	})
	call.routed(out)
	if err != nil {
		call.finish(ctx, nil, err)
		return nil, call.prov, err
	}
	v, _ := results.Load(out.Deployment)
	resp := v.(*llm.EmbeddingResponse)
	usage := &llm.Usage{PromptTokens: resp.Usage.PromptTokens, TotalTokens: resp.Usage.TotalTokens}
	out.Deployment.ObserveUsage(usage.TotalTokens, resp.Upstream.RateLimit)
	call.finish(ctx, usage, nil)
	return resp, call.prov, nil
}

// attemptError makes an attempt's failure one the router can judge: an
// attempt that ran out of time is a retryable 504 naming the deployment.
func attemptError(actx context.Context, d *route.Deployment, err error) error {
	var le *llm.Error
	if errors.As(err, &le) {
		return err
	}
	if errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Upstream: true,
			Message: "deployment " + d.Name + " did not answer in time"}
	}
	return err
}

func totalTokens(u *llm.Usage) int {
	if u == nil {
		return 0
	}
	return u.TotalTokens
}

func callerFrom(ctx context.Context) *Caller {
	if info := RequestInfoFrom(ctx); info != nil {
		return info.Caller
	}
	return nil
}
