package vertex

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
	"net/url"
	"time"

	"golang.org/x/oauth2"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
)

// Name is the provider name deployments use in configuration.
const Name = "vertex"

func init() {
	provider.Register(Name, provider.Factory{
		NewOptions: func() any { return &Options{} },
		New:        New,
	})
}

// New builds the provider of one Vertex AI deployment from cfg, whose
// Options must be a validated *Options. The result also implements
// provider.Embedder when the publisher is Google.
func New(cfg provider.Config) (provider.Provider, error) {
	o, ok := cfg.Options.(*Options)
	if !ok || o == nil {
		return nil, fmt.Errorf("vertex: options are %T, want *vertex.Options", cfg.Options)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if cfg.Deployment.Model == "" {
		return nil, fmt.Errorf("vertex: deployment %q names no model", cfg.Deployment.Name)
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	ts, err := newTokenSource(o, httpClient)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	b := &base{
		deployment: cfg.Deployment,
		modelURL: o.baseURL() + "/v1/projects/" + url.PathEscape(o.Project) + "/locations/" + url.PathEscape(o.location()) +
			"/publishers/" + o.publisher() + "/models/" + url.PathEscape(cfg.Deployment.Model),
		tokens: ts,
		client: httpClient,
		logger: logger,
	}
	if o.publisher() == PublisherAnthropic {
		return newClaude(b), nil
	}
	return &gemini{base: b}, nil
}

// base is what every publisher's client shares: where the model lives and
// how to authenticate to it.
type base struct {
	deployment provider.Deployment
	modelURL   string // .../publishers/{p}/models/{model}, without the method
	tokens     oauth2.TokenSource
	client     *http.Client
	logger     *slog.Logger
}

// post sends body to the model's method (e.g. "generateContent",
// "streamGenerateContent?alt=sse") and returns a 2xx response, whose body
// the caller closes. Every failure is an *llm.Error or the context's error.
func (b *base) post(ctx context.Context, method string, body []byte) (*http.Response, error) {
	tok, err := b.tokens.Token()
	if err != nil {
		b.logger.Warn("vertex: token fetch failed", "deployment", b.deployment.Name, "err", err)
		return nil, tokenError(err, b.deployment.Name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.modelURL+":"+method, bytes.NewReader(body))
	if err != nil {
		return nil, transportError(err, b.deployment.Name)
	}
	req.Header.Set("Content-Type", "application/json")
	tok.SetAuthHeader(req)
	resp, err := b.client.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, transportError(err, b.deployment.Name)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, httpError(resp, b.deployment.Name)
	}
	return resp, nil
}

// postJSON sends body and decodes a 2xx JSON answer into out.
func (b *base) postJSON(ctx context.Context, method string, body []byte, out any) error {
	resp, err := b.post(ctx, method, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return transportError(err, b.deployment.Name)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		e := llm.Errorf(http.StatusBadGateway, "Vertex AI deployment %q sent an answer that is not valid JSON; retry the request", b.deployment.Name)
		e.Upstream = true
		return e
	}
	return nil
}

func (b *base) meta() respMeta {
	return respMeta{deployment: b.deployment.Name, model: b.deployment.Model, id: newID(), created: time.Now().Unix()}
}

func newID() string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return "chatcmpl-" + hex.EncodeToString(r[:])
}

// gemini serves Google's own models.
type gemini struct {
	*base
}

var (
	_ provider.Provider = (*gemini)(nil)
	_ provider.Embedder = (*gemini)(nil)
)

func (g *gemini) body(req *llm.ChatRequest) ([]byte, error) {
	gr, err := toGemini(req, g.deployment.Name)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(gr)
	if err != nil {
		return nil, llm.Errorf(http.StatusBadRequest, "the request cannot be encoded for Vertex AI deployment %q: %v", g.deployment.Name, err)
	}
	return b, nil
}

// ChatCompletion sends a generateContent request.
func (g *gemini) ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	body, err := g.body(req)
	if err != nil {
		return nil, err
	}
	var resp generateContentResponse
	if err := g.postJSON(ctx, "generateContent", body, &resp); err != nil {
		return nil, err
	}
	return fromGemini(&resp, g.meta())
}

// StreamChatCompletion sends a streamGenerateContent request (SSE).
func (g *gemini) StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error) {
	body, err := g.body(req)
	if err != nil {
		return nil, err
	}
	resp, err := g.post(ctx, "streamGenerateContent?alt=sse", body)
	if err != nil {
		return nil, err
	}
	up := llm.Upstream{RateLimit: llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}}
	return newGeminiStream(ctx, resp.Body, g.meta(), up), nil
}
