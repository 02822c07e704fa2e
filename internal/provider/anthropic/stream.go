package anthropic

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
	wire "github.com/switchyard/switchyard/internal/wire/anthropic"
)

// chatStream reads one Messages SSE stream and yields canonical chunks.
type chatStream struct {
	p        *Provider
	ctx      context.Context
	cancel   context.CancelFunc
	body     io.ReadCloser
	reader   *sse.Reader
	tr       *wire.StreamTranslator
	upstream llm.Upstream
	pending  []*llm.ChatChunk
	err      error // sticky: once set, Next returns it

	closeOnce sync.Once
}

func newChatStream(p *Provider, ctx context.Context, cancel context.CancelFunc, resp *http.Response) *chatStream {
	return &chatStream{
		p:        p,
		ctx:      ctx,
		cancel:   cancel,
		body:     resp.Body,
		reader:   sse.NewReader(resp.Body),
		tr:       wire.NewStreamTranslator(p.now().Unix()),
		upstream: upstreamFromHeader(resp.Header),
	}
}

// Next returns the next chunk, io.EOF after message_stop, or an error for
// an error event, a malformed event or a stream cut short.
func (s *chatStream) Next() (*llm.ChatChunk, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		if s.tr.Done() {
			s.err = io.EOF
			return nil, io.EOF
		}
		ev, err := s.reader.Next()
		if err != nil {
			s.err = s.readError(err)
			return nil, s.err
		}
		chunks, err := s.tr.Event(ev.Event, ev.Data)
		if err != nil {
			s.err = err
			return nil, err
		}
		s.pending = append(s.pending, chunks...)
	}
	c := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	return c, nil
}

// readError turns a read failure into the error the client sees: a stream
// that ends before message_stop is a 502, never a normal end.
func (s *chatStream) readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.p.badGateway("ended its stream before message_stop; the answer is incomplete")
	}
	if s.ctx.Err() != nil {
		return s.p.transportError(s.ctx, err)
	}
	if errors.Is(err, sse.ErrEventTooLarge) {
		return s.p.badGateway("sent a stream event larger than %d MiB", sse.MaxEventSize>>20)
	}
	return s.p.badGateway("broke off its stream: %v", err)
}

// Close cancels the upstream request and releases the connection.
func (s *chatStream) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		_ = s.body.Close()
	})
	return nil
}

// Upstream describes the answer from its headers; Anthropic names the
// model version only in message_start, which each chunk's Model carries.
func (s *chatStream) Upstream() llm.Upstream { return s.upstream }

var _ llm.ChatStream = (*chatStream)(nil)
