package openai

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
)

// Operation is an OpenAI API operation, named by its path below the base
// URL.
type Operation string

// The operations a Client performs.
const (
	OpChat       Operation = "chat/completions"
	OpEmbeddings Operation = "embeddings"
)

// maxResponse bounds a non-streamed answer the gateway will buffer.
const maxResponse = 64 << 20

// Client speaks OpenAI's chat and embeddings protocol to one deployment. It
// implements provider.Provider and provider.Embedder.
//
// The "openai" providers are a Client whose URL joins the base URL and the
// operation and whose Authorize sends a bearer key; Azure OpenAI sets its
// own URL and Authorize and reuses everything else.
type Client struct {
	// Provider names the cloud in error messages, e.g. "openai", "azure".
	Provider string
	// Deployment is the deployment this client serves.
	Deployment provider.Deployment
	// Model is the model id written into request bodies; "" means
	// Deployment.Model.
	Model string
	// URL returns the absolute URL of op. Non-nil.
	URL func(op Operation) string
	// Authorize adds credentials to an outgoing request, after Header is
	// applied, so it wins over any header of the same name. It may block to
	// fetch a token and must honour req.Context(). An error it returns
	// reaches the client, so it must not contain secrets. Or nil: no
	// credentials (a local server).
	Authorize func(req *http.Request) error
	// Header is sent with every request (organization, project, extra
	// headers). Or nil.
	Header http.Header
	// Timeout bounds a non-streamed request, and a streamed one until its
	// response headers arrive; 0 means only the caller's context bounds it.
	Timeout time.Duration
	// HTTPClient sends the requests. Non-nil.
	HTTPClient *http.Client
	// Logger records failures; it never sees credentials. Non-nil.
	Logger *slog.Logger
}

var (
	_ provider.Provider = (*Client)(nil)
	_ provider.Embedder = (*Client)(nil)
)

// Target returns what this client's errors are about.
func (c *Client) Target() Target {
	return Target{Provider: c.Provider, Deployment: c.Deployment.Name, Model: c.model()}
}

func (c *Client) model() string {
	if c.Model != "" {
		return c.Model
	}
	return c.Deployment.Model
}

// ChatBody returns the wire body for req: a copy with the deployment's
// model and, for streams, stream_options.include_usage set, so usage is
// always known to the gateway. The caller's request is never modified.
func (c *Client) ChatBody(req *llm.ChatRequest, stream bool) ([]byte, error) {
	out := *req
	out.Model = c.model()
	out.Stream = stream
	if stream {
		out.StreamOptions = &llm.StreamOptions{IncludeUsage: true}
	} else {
		out.StreamOptions = nil
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, llm.Errorf(http.StatusBadRequest, "the request cannot be encoded for deployment %s: %v", c.Deployment.Name, err)
	}
	return b, nil
}

// ChatCompletion sends a non-streamed chat completion.
func (c *Client) ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	body, err := c.ChatBody(req, false)
	if err != nil {
		return nil, err
	}
	// The answer keeps its wire form: a non-streamed answer is the same
	// whatever stream_options the client sent.
	var out *llm.ChatResponse
	up, err := c.roundTrip(ctx, OpChat, body, func(data []byte) (err error) {
		out, err = llm.DecodeWireResponse(data)
		return err
	})
	if err != nil {
		return nil, err
	}
	up.ModelVersion = out.Model
	out.Upstream = up
	return out, nil
}

// Embeddings sends an embeddings request. encoding_format passes through:
// llm.Vector reads floats and base64 alike.
func (c *Client) Embeddings(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	wire := *req
	wire.Model = c.model()
	body, err := json.Marshal(wire)
	if err != nil {
		return nil, llm.Errorf(http.StatusBadRequest, "the request cannot be encoded for deployment %s: %v", c.Deployment.Name, err)
	}
	var out llm.EmbeddingResponse
	up, err := c.roundTrip(ctx, OpEmbeddings, body, func(data []byte) error { return json.Unmarshal(data, &out) })
	if err != nil {
		return nil, err
	}
	up.ModelVersion = out.Model
	out.Upstream = up
	return &out, nil
}

// roundTrip sends a non-streamed request and hands a 2xx answer to decode.
func (c *Client) roundTrip(ctx context.Context, op Operation, body []byte, decode func([]byte) error) (llm.Upstream, error) {
	parent := ctx
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.Timeout, errTimeout)
		defer cancel()
	}
	resp, err := c.send(ctx, op, body)
	if err != nil {
		return llm.Upstream{}, c.transportError(parent, ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return llm.Upstream{}, c.transportError(parent, ctx, err)
	}
	up := UpstreamFromHeader(resp.Header)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := ErrorFromResponse(c.Target(), resp, data)
		c.Logger.Warn("upstream error", "provider", c.Provider, "deployment", c.Deployment.Name,
			"status", resp.StatusCode, "request_id", up.RequestID, "error", e.Message)
		return up, e
	}
	if len(data) > maxResponse {
		return up, c.badGateway("answered with more than %d MiB", maxResponse>>20)
	}
	if err := decode(data); err != nil {
		return up, c.badGateway("returned a response that is not valid JSON for %s: %v", op, err)
	}
	return up, nil
}

// send builds and sends one request. The caller closes the body.
func (c *Client) send(ctx context.Context, op Operation, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL(op), bytes.NewReader(body))
	if err != nil {
		return nil, c.badGateway("has an unusable URL: %v", err)
	}
	for k, vs := range c.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.Authorize != nil {
		if err := c.Authorize(req); err != nil {
			return nil, err
		}
	}
	return c.HTTPClient.Do(req)
}

// transportError maps a failure to reach the upstream (or to read its
// answer) to a client error. parent is the caller's context and ctx the
// one the request ran under.
func (c *Client) transportError(parent, ctx context.Context, err error) error {
	var le *llm.Error
	if errors.As(err, &le) {
		return le // from Authorize: already phrased for a person
	}
	if perr := parent.Err(); perr != nil {
		if errors.Is(perr, context.Canceled) {
			// The client went away; nobody is left to read an error.
			return fmt.Errorf("deployment %s: request abandoned by the caller: %w", c.Deployment.Name, perr)
		}
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Upstream: true,
			Message: fmt.Sprintf("deployment %s did not answer before the request's deadline", c.Deployment.Name)}
	}
	var ne net.Error
	if errors.Is(context.Cause(ctx), errTimeout) || (errors.As(err, &ne) && ne.Timeout()) {
		return &llm.Error{Status: http.StatusGatewayTimeout, Type: llm.TypeTimeout, Upstream: true,
			Message: fmt.Sprintf("deployment %s (%s) did not answer within %s; raise its timeout or try again", c.Deployment.Name, c.Provider, c.Timeout)}
	}
	c.Logger.Warn("upstream unreachable", "provider", c.Provider, "deployment", c.Deployment.Name, "error", err)
	return c.badGateway("could not be reached (%s)", networkReason(err))
}

// networkReason names a network failure without the addresses in it:
// upstream hosts are the operator's business, and the full error is logged.
func networkReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before an answer"
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return "DNS lookup failed"
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return "TLS certificate not trusted"
	}
	return "network error"
}

func (c *Client) badGateway(format string, args ...any) *llm.Error {
	return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeAPI, Upstream: true,
		Message: fmt.Sprintf("deployment %s (%s) ", c.Deployment.Name, c.Provider) + fmt.Sprintf(format, args...)}
}

// UpstreamFromHeader reads the request id and remaining quota an
// OpenAI-shaped server reports; quotas it does not report are -1.
func UpstreamFromHeader(h http.Header) llm.Upstream {
	up := llm.Upstream{RequestID: h.Get("X-Request-Id"), RateLimit: llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}}
	if up.RequestID == "" {
		up.RequestID = h.Get("Apim-Request-Id") // Azure's gateway id
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Ratelimit-Remaining-Requests"))); err == nil {
		up.RateLimit.RemainingRequests = n
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Ratelimit-Remaining-Tokens"))); err == nil {
		up.RateLimit.RemainingTokens = n
	}
	return up
}
