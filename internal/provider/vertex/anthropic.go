package vertex

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/sse"
	"github.com/switchyard/switchyard/internal/wire/anthropic"
)

// vertexAnthropicVersion is the anthropic_version Claude on Vertex AI
// requires in the body (the first-party API takes a header instead).
const vertexAnthropicVersion = "vertex-2023-10-16"

// claude serves Anthropic's models on Vertex AI (publisher "anthropic"):
// the Messages body minus model, sent to rawPredict / streamRawPredict.
type claude struct {
	*base
}

var _ provider.Provider = (*claude)(nil)

func newClaude(b *base) *claude { return &claude{base: b} }

func (c *claude) body(req *llm.ChatRequest, stream bool) ([]byte, error) {
	mr, err := anthropic.FromChat(req, anthropic.RequestOptions{Deployment: c.deployment.Name})
	if err != nil {
		return nil, err
	}
	mr.Model = "" // Vertex AI takes the model from the URL
	mr.Stream = stream
	mr.AnthropicVersion = vertexAnthropicVersion
	b, err := json.Marshal(mr)
	if err != nil {
		return nil, llm.Errorf(http.StatusBadRequest, "the request cannot be encoded for Vertex AI deployment %q: %v", c.deployment.Name, err)
	}
	return b, nil
}

// ChatCompletion sends a rawPredict request.
func (c *claude) ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	body, err := c.body(req, false)
	if err != nil {
		return nil, err
	}
	var mr anthropic.MessagesResponse
	if err := c.postJSON(ctx, "rawPredict", body, &mr); err != nil {
		return nil, err
	}
	resp, err := anthropic.ToChatResponse(&mr)
	if err != nil {
		e := llm.Errorf(http.StatusBadGateway, "Vertex AI deployment %q sent a Claude answer that cannot be read (%v); retry the request", c.deployment.Name, err)
		e.Upstream = true
		return nil, e
	}
	resp.Created = time.Now().Unix()
	resp.Upstream = llm.Upstream{RequestID: mr.ID, ModelVersion: mr.Model, RateLimit: llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}}
	return resp, nil
}

// StreamChatCompletion sends a streamRawPredict request (Anthropic SSE).
func (c *claude) StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error) {
	body, err := c.body(req, true)
	if err != nil {
		return nil, err
	}
	resp, err := c.post(ctx, "streamRawPredict", body)
	if err != nil {
		return nil, err
	}
	return &claudeStream{
		ctx: ctx, body: resp.Body, events: sse.NewReader(resp.Body), deployment: c.deployment.Name,
		tr:       anthropic.NewStreamTranslator(time.Now().Unix()),
		upstream: llm.Upstream{RateLimit: llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}},
	}, nil
}

// claudeStream is the llm.ChatStream of one streamRawPredict answer.
type claudeStream struct {
	ctx        context.Context
	body       io.ReadCloser
	events     *sse.Reader
	tr         *anthropic.StreamTranslator
	deployment string
	queue      []*llm.ChatChunk
	err        error // sticky
	upstream   llm.Upstream
	close      sync.Once
}

// Next returns the next chunk, io.EOF after message_stop, or an error.
func (s *claudeStream) Next() (*llm.ChatChunk, error) {
	for len(s.queue) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		ev, err := s.events.Next()
		switch {
		case errors.Is(err, io.EOF):
			if s.tr.Done() {
				s.err = io.EOF
			} else {
				e := llm.Errorf(http.StatusBadGateway, "the Vertex AI Claude stream for deployment %q ended before completion (no message_stop); the answer is incomplete, retry the request", s.deployment)
				e.Upstream = true
				s.err = e
			}
		case err != nil:
			if cerr := s.ctx.Err(); cerr != nil {
				s.err = cerr
			} else {
				s.err = upstreamBroken(s.deployment, "could not be read ("+oneLine(err)+")")
			}
		default:
			s.queue, s.err = s.tr.Event(ev.Event, ev.Data)
			if s.err != nil && !isLLMError(s.err) {
				s.err = upstreamBroken(s.deployment, "sent an event that cannot be read ("+oneLine(s.err)+")")
			}
		}
	}
	c := s.queue[0]
	s.queue = s.queue[1:]
	return c, nil
}

func isLLMError(err error) bool {
	var e *llm.Error
	return errors.As(err, &e)
}

// Close releases the upstream connection.
func (s *claudeStream) Close() error {
	var err error
	s.close.Do(func() { err = s.body.Close() })
	return err
}

// Upstream describes the provider's answer.
func (s *claudeStream) Upstream() llm.Upstream { return s.upstream }
