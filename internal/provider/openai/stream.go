package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
)

// StreamChatCompletion opens a streamed chat completion. Upstream is
// always asked for usage, so the stream ends with a usage chunk whenever
// the server sends one; the front door decides whether the client sees it.
func (c *Client) StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error) {
	body, err := c.ChatBody(req, true)
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	var headerTimer *time.Timer
	if c.Timeout > 0 {
		// Bound only the wait for the answer to start: a long stream that
		// keeps sending is healthy.
		headerTimer = time.AfterFunc(c.Timeout, func() { cancel(errTimeout) })
	}
	resp, err := c.send(ctx, OpChat, body)
	if headerTimer != nil && !headerTimer.Stop() && err == nil {
		// The timer fired just as headers arrived; the body is unusable.
		err = context.Cause(ctx)
		resp.Body.Close()
	}
	if err != nil {
		cancel(nil)
		return nil, c.transportError(parent, ctx, err)
	}
	up := UpstreamFromHeader(resp.Header)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer cancel(nil)
		defer resp.Body.Close()
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if rerr != nil && len(data) == 0 {
			return nil, c.transportError(parent, ctx, rerr)
		}
		e := ErrorFromResponse(c.Target(), resp, data)
		c.Logger.Warn("upstream error", "provider", c.Provider, "deployment", c.Deployment.Name,
			"status", resp.StatusCode, "request_id", up.RequestID, "error", e.Message)
		return nil, e
	}
	// Upstream is always asked for usage; its chunks are what the client
	// asked for only if the client asked for usage too.
	return NewStream(StreamConfig{Body: resp.Body, Target: c.Target(), Upstream: up, Context: parent, Cancel: func() { cancel(nil) },
		PassThrough: req.IncludeUsage()}), nil
}

// StreamConfig is what NewStream decodes.
type StreamConfig struct {
	// Body is the event stream; the stream closes it. Non-nil.
	Body io.ReadCloser
	// Target names the deployment in errors.
	Target Target
	// Upstream is what the response headers said.
	Upstream llm.Upstream
	// Context is the caller's context: when it is done, the stream ends
	// with its error rather than a 502. Or nil.
	Context context.Context
	// Cancel aborts the upstream request; Close calls it. Or nil.
	Cancel func()
	// PassThrough keeps each chunk's wire form (llm.ChatChunk.Wire) for
	// the OpenAI front door to send as it came. Set it only when the
	// upstream was asked for exactly the stream the client asked for.
	PassThrough bool
}

// NewStream returns a ChatStream decoding an OpenAI-shaped event stream.
// It is exported for adapters of other OpenAI-shaped clouds and for tests.
func NewStream(cfg StreamConfig) llm.ChatStream {
	return &chatStream{cfg: cfg, events: sse.NewReader(cfg.Body), upstream: cfg.Upstream}
}

// chatStream decodes `data:` events into chunks until `[DONE]`.
type chatStream struct {
	cfg      StreamConfig
	events   *sse.Reader
	upstream llm.Upstream
	err      error          // sticky: once set, Next returns it forever
	ready    *llm.ChatChunk // decoded by Ready, returned by the next Next
	closed   atomic.Bool
	once     sync.Once
}

var (
	doneMarker = []byte("[DONE]")
	// errorKey is in every chunk that carries an error member (quotes
	// inside strings are escaped), so chunks without it need no search.
	errorKey = []byte(`"error"`)
)

// Next returns the next chunk that carries choices or usage. Chunks with
// neither (Azure's leading prompt_filter_results chunk, keep-alives) are
// skipped. io.EOF means the server sent [DONE]; any other end is an error.
func (s *chatStream) Next() (*llm.ChatChunk, error) {
	if c := s.ready; c != nil {
		s.ready = nil
		return c, nil
	}
	for s.err == nil {
		if c := s.decode(s.events.Next()); c != nil {
			return c, nil
		}
	}
	return nil, s.err
}

// Ready implements llm.ReadyStream: it decodes, without waiting, what has
// already arrived until it finds the chunk Next will return or the end.
func (s *chatStream) Ready() bool {
	for s.ready == nil && s.err == nil {
		if !s.events.Ready() {
			return false
		}
		s.ready = s.decode(s.events.Next())
	}
	return true
}

// decode turns one event into a chunk, or nil for an event to skip or the
// stream's end (then s.err is set).
func (s *chatStream) decode(ev sse.Event, err error) *llm.ChatChunk {
	if err != nil {
		s.err = s.cutShort(err)
		return nil
	}
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 {
		return nil
	}
	if bytes.Equal(data, doneMarker) {
		s.err = io.EOF
		return nil
	}
	chunk, err := llm.DecodeWireChunk(data)
	if err != nil {
		s.err = s.badGateway("carried an event that is not a chat chunk: %v", err)
		return nil
	}
	if !s.cfg.PassThrough || bytes.Contains(data, errorKey) {
		chunk.Edit()
	}
	if raw, ok := chunk.Extra["error"]; ok && !isJSONNull(raw) {
		s.err = StreamError(s.cfg.Target, data)
		return nil
	}
	if len(chunk.Choices) == 0 && chunk.Usage == nil {
		return nil
	}
	if s.upstream.ModelVersion == "" {
		s.upstream.ModelVersion = chunk.Model
	}
	return chunk
}

func isJSONNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// cutShort explains a stream that ended without [DONE].
func (s *chatStream) cutShort(err error) error {
	if s.closed.Load() {
		return errors.New("openai: stream closed")
	}
	if ctx := s.cfg.Context; ctx != nil && ctx.Err() != nil {
		return fmt.Errorf("deployment %s: stream abandoned by the caller: %w", s.cfg.Target.Deployment, ctx.Err())
	}
	if errors.Is(err, sse.ErrEventTooLarge) {
		return s.badGateway("carried an event larger than %d MiB", sse.MaxEventSize>>20)
	}
	detail := "the connection closed"
	if !errors.Is(err, io.EOF) {
		detail = err.Error()
	}
	return s.badGateway("ended before completion (%s); the answer is incomplete", detail)
}

func (s *chatStream) badGateway(format string, args ...any) *llm.Error {
	t := s.cfg.Target
	return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeAPI, Upstream: true,
		Message: fmt.Sprintf("the stream from deployment %s (%s) ", t.Deployment, t.Provider) + fmt.Sprintf(format, args...)}
}

// Close cancels the upstream request and releases its connection. It is
// safe to call more than once and from another goroutine than Next.
func (s *chatStream) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		if s.cfg.Cancel != nil {
			s.cfg.Cancel()
		}
		_ = s.cfg.Body.Close()
	})
	return nil
}

// Upstream describes the answer. ModelVersion is filled from the first
// chunk, since OpenAI reports the model only in the body.
func (s *chatStream) Upstream() llm.Upstream { return s.upstream }
