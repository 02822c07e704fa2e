package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	wire "github.com/switchyard/switchyard/internal/wire/anthropic"
)

// maxResponse bounds a non-streamed answer.
const maxResponse = 32 << 20

// Provider serves one Anthropic deployment.
type Provider struct {
	dep    provider.Deployment
	opts   Options
	client *http.Client
	log    *slog.Logger
	// now stamps Created on translated answers; tests replace it.
	now func() time.Time
}

// New returns the adapter for one deployment; opts must have passed
// Validate. cfg.HTTPClient and cfg.Logger may be nil in tests.
func New(cfg provider.Config, opts *Options) *Provider {
	p := &Provider{dep: cfg.Deployment, opts: *opts, client: cfg.HTTPClient, log: cfg.Logger, now: time.Now}
	p.opts.Beta = append([]string(nil), opts.Beta...)
	if p.client == nil {
		p.client = http.DefaultClient
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p
}

// ChatCompletion sends one non-streamed request.
func (p *Provider) ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	body, err := p.body(req, false)
	if err != nil {
		return nil, err
	}
	resp, err := p.send(ctx, body)
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, p.transportError(ctx, err)
	}
	up := upstreamFromHeader(resp.Header)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, p.errorFromResponse(resp, data)
	}
	if len(data) > maxResponse {
		return nil, p.badGateway("answered with more than %d MiB", maxResponse>>20)
	}
	var msg wire.MessagesResponse
	if err := json.Unmarshal(data, &msg); err != nil {
		return nil, p.badGateway("returned a response that is not a Messages answer: %v", err)
	}
	out, err := wire.ToChatResponse(&msg)
	if err != nil {
		return nil, p.badGateway("returned an unusable answer: %v", err)
	}
	out.Created = p.now().Unix()
	up.ModelVersion = msg.Model
	out.Upstream = up
	return out, nil
}

// StreamChatCompletion opens a streamed request. The stream ends with an
// error, never io.EOF, when the upstream stops before message_stop.
func (p *Provider) StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error) {
	body, err := p.body(req, true)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	resp, err := p.send(ctx, body)
	if err != nil {
		cancel()
		return nil, p.transportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel()
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, p.errorFromResponse(resp, data)
	}
	return newChatStream(p, ctx, cancel, resp), nil
}

// body translates req without touching it; stream decides the mode
// whatever the client's request said.
func (p *Provider) body(req *llm.ChatRequest, stream bool) ([]byte, error) {
	msg, err := wire.FromChat(req, wire.RequestOptions{Model: p.dep.Model, Deployment: p.dep.Name, DefaultMaxTokens: p.opts.DefaultMaxTokens})
	if err != nil {
		return nil, err
	}
	msg.Stream = stream
	return json.Marshal(msg)
}

func (p *Provider) send(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.opts.baseURL()+"/v1/messages", bytes.NewReader(body))
	if err != nil {
		return nil, p.badGateway("has an unusable base_url: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("x-api-key", p.opts.APIKey)
	req.Header.Set("anthropic-version", p.opts.version())
	if len(p.opts.Beta) > 0 {
		req.Header.Set("anthropic-beta", strings.Join(p.opts.Beta, ","))
	}
	return p.client.Do(req)
}

// transportError maps a failure to reach Anthropic, or to read its answer.
func (p *Provider) transportError(ctx context.Context, err error) error {
	var le *llm.Error
	if errors.As(err, &le) {
		return le
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.Canceled) {
			return fmt.Errorf("deployment %s: request abandoned by the caller: %w", p.dep.Name, cerr)
		}
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Upstream: true,
			Message: fmt.Sprintf("deployment %s (anthropic) did not answer before the request's deadline", p.dep.Name)}
	}
	if ue, ok := errors.AsType[*url.Error](err); ok && ue.Err != nil {
		err = ue.Err // the URL is the operator's business, not the client's
	}
	p.log.Warn("upstream unreachable", "provider", Name, "deployment", p.dep.Name, "error", err)
	return p.badGateway("could not be reached: %v", err)
}

func (p *Provider) badGateway(format string, args ...any) *llm.Error {
	return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeAPI, Upstream: true,
		Message: fmt.Sprintf("deployment %s (anthropic) ", p.dep.Name) + fmt.Sprintf(format, args...)}
}

// upstreamFromHeader reads Anthropic's request id and remaining quota;
// quotas it does not report are -1.
func upstreamFromHeader(h http.Header) llm.Upstream {
	up := llm.Upstream{RequestID: h.Get("request-id"), RateLimit: llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}}
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("anthropic-ratelimit-requests-remaining"))); err == nil {
		up.RateLimit.RemainingRequests = n
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("anthropic-ratelimit-tokens-remaining"))); err == nil {
		up.RateLimit.RemainingTokens = n
	}
	return up
}

var _ provider.Provider = (*Provider)(nil)
