package bedrock

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
)

// Name is the provider name deployments use in configuration.
const Name = "bedrock"

func init() {
	provider.Register(Name, provider.Factory{
		NewOptions: func() any { return &Options{} },
		New:        New,
	})
}

// maxAnswer bounds a non-streamed answer.
const maxAnswer = 64 << 20

// New builds the provider of one Bedrock deployment from cfg, whose Options
// must be a *Options. Deployment.Model is the Bedrock model id, inference
// profile id or ARN. The result also implements provider.Embedder.
func New(cfg provider.Config) (provider.Provider, error) {
	o, ok := cfg.Options.(*Options)
	if !ok || o == nil {
		return nil, fmt.Errorf("bedrock: options are %T, want *bedrock.Options", cfg.Options)
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("bedrock deployment %q: %w", cfg.Deployment.Name, err)
	}
	if cfg.Deployment.Model == "" {
		return nil, fmt.Errorf("bedrock deployment %q names no model", cfg.Deployment.Name)
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	auth, err := newAuthorizer(o, cfg.Deployment.Name, httpClient)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &client{
		deployment: cfg.Deployment,
		// Labels are escaped the AWS way: everything but A-Za-z0-9-._~,
		// so "v1:0" travels as "v1%3A0" and an ARN's "/" as "%2F".
		modelURL:    o.endpoint() + "/model/" + httpbinding.EscapePath(cfg.Deployment.Model, true),
		auth:        auth,
		http:        httpClient,
		logger:      logger,
		embedFormat: o.embeddingFormat(cfg.Deployment.Model),
	}, nil
}

// client serves one deployment.
type client struct {
	deployment  provider.Deployment
	modelURL    string // .../model/{escaped id}
	auth        authorizer
	http        *http.Client
	logger      *slog.Logger
	embedFormat string // "titan", "cohere" or "" (not an embedding model)
}

var (
	_ provider.Provider = (*client)(nil)
	_ provider.Embedder = (*client)(nil)
)

func (c *client) ec() errorContext {
	return errorContext{deployment: c.deployment.Name, model: c.deployment.Model}
}

// post sends body to the model's operation ("converse", "converse-stream",
// "invoke") and returns a 2xx response, whose body the caller closes.
// Every failure is an *llm.Error or the context's error.
func (c *client) post(ctx context.Context, op string, body []byte, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.modelURL+"/"+op, bytes.NewReader(body))
	if err != nil {
		return nil, transportError(err, c.ec())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", accept)
	if err := c.auth.authorize(ctx, req, body); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, transportError(err, c.ec())
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		e := httpError(resp, c.ec())
		c.logger.Debug("bedrock: error answer", "deployment", c.deployment.Name, "status", resp.StatusCode, "error_type", resp.Header.Get("X-Amzn-Errortype"))
		return nil, e
	}
	return resp, nil
}

// postJSON sends body and decodes a 2xx JSON answer into out.
func (c *client) postJSON(ctx context.Context, op string, body []byte, out any) (http.Header, error) {
	resp, err := c.post(ctx, op, body, "application/json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, transportError(err, c.ec())
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, upstreamBroken(c.ec(), "was not valid JSON")
	}
	return resp.Header, nil
}

func (c *client) body(req *llm.ChatRequest) ([]byte, error) {
	cr, err := toConverse(req, c.deployment.Name)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(cr)
	if err != nil {
		return nil, llm.BadRequest("", "the request cannot be encoded for Bedrock deployment %q: %v", c.deployment.Name, err)
	}
	return b, nil
}

func (c *client) meta(h http.Header) respMeta {
	return respMeta{
		errorContext: c.ec(), id: newID(), created: time.Now().Unix(),
		up: llm.Upstream{RequestID: h.Get("X-Amzn-Requestid"), RateLimit: llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}},
	}
}

func newID() string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return "chatcmpl-" + hex.EncodeToString(r[:])
}

// ChatCompletion sends a Converse request.
func (c *client) ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	body, err := c.body(req)
	if err != nil {
		return nil, err
	}
	var resp converseResponse
	h, err := c.postJSON(ctx, "converse", body, &resp)
	if err != nil {
		return nil, err
	}
	return fromConverse(&resp, c.meta(h))
}

// StreamChatCompletion sends a ConverseStream request.
func (c *client) StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error) {
	body, err := c.body(req)
	if err != nil {
		return nil, err
	}
	resp, err := c.post(ctx, "converse-stream", body, "application/vnd.amazon.eventstream")
	if err != nil {
		return nil, err
	}
	return newConverseStream(ctx, resp.Body, c.meta(resp.Header)), nil
}
