package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/route"
)

// ChatStream answers a streamed chat completion. Failover happens only
// until the first chunk arrives; after that, an upstream failure reaches
// the client as an error from Next, never as a normal end.
func (g *Gateway) ChatStream(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, Provenance, error) {
	call, err := g.begin(ctx, req.Model, requirementsFor(req))
	if err != nil {
		call.finish(ctx, nil, err)
		return nil, call.prov, err
	}
	if err := call.admit(ctx, req); err != nil {
		return nil, call.prov, err
	}
	start := time.Now()
	var mu sync.Mutex
	opened := map[*route.Deployment]*openStream{}
	out, err := call.router.Do(ctx, call.alias, call.reqs, func(actx context.Context, d *route.Deployment) error {
		// The stream must outlive this attempt's context, which the router
		// may cancel once Do returns; it lives on the request's context
		// and follows the attempt's only until the first chunk.
		sctx, cancel := context.WithCancel(ctx)
		actx, cancelAttempt := context.WithTimeout(actx, g.opts.AttemptTimeout)
		defer cancelAttempt()
		stop := context.AfterFunc(actx, cancel)
		s, err := d.Backend.StreamChatCompletion(sctx, call.Chat)
		if err != nil {
			stop()
			cancel()
			return attemptError(actx, d, err)
		}
		first, err := s.Next()
		if !stop() || err != nil {
			s.Close()
			cancel()
			if err == nil || errors.Is(err, io.EOF) {
				err = actx.Err()
				if err == nil {
					err = &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeAPI, Upstream: true, Message: "deployment " + d.Name + " ended its stream without sending anything"}
				}
			}
			return attemptError(actx, d, err)
		}
		mu.Lock()
		opened[d] = &openStream{s: s, first: first, cancel: cancel}
		mu.Unlock()
		return nil
	})
	call.routed(out)
	mu.Lock()
	winner := opened[out.Deployment]
	for d, o := range opened {
		if d != out.Deployment || err != nil {
			o.s.Close()
			o.cancel()
		}
	}
	mu.Unlock()
	if err != nil {
		call.finish(ctx, nil, err)
		return nil, call.prov, err
	}
	var s llm.ChatStream = &stream{call: call, ctx: ctx, open: winner, start: start, ttft: time.Since(start)}
	for _, st := range g.opts.Stages {
		if ss, ok := st.(StreamStage); ok {
			s = ss.Stream(ctx, call.Call, s)
		}
	}
	return s, call.prov, nil
}

type openStream struct {
	s      llm.ChatStream
	first  *llm.ChatChunk
	cancel context.CancelFunc
}

// stream hands the client the chunks of the chosen deployment's stream,
// and reports the outcome to the router and the stages exactly once.
type stream struct {
	call  *call
	ctx   context.Context
	open  *openStream
	start time.Time
	ttft  time.Duration

	usage  *llm.Usage
	finish string
	// ended holds how the stream ended (io.EOF for a complete answer);
	// nil while it runs.
	ended error
	once  sync.Once
}

// Ready implements llm.ReadyStream.
func (s *stream) Ready() bool {
	return s.ended != nil || s.open.first != nil || llm.Ready(s.open.s)
}

func (s *stream) Next() (*llm.ChatChunk, error) {
	if s.ended != nil {
		return nil, s.ended
	}
	var c *llm.ChatChunk
	var err error
	if s.open.first != nil {
		c, s.open.first = s.open.first, nil
	} else {
		c, err = s.open.s.Next()
	}
	if err != nil {
		// The outcome is reported on Close, so that the front door's last
		// write (the [DONE] or the error event) is not held up by the
		// after-stages' records.
		s.ended = err
		return nil, err
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	for _, ch := range c.Choices {
		if ch.FinishReason != "" && ch.Index == 0 {
			s.finish = string(ch.FinishReason)
		}
	}
	return c, nil
}

// Close releases the upstream stream and reports the outcome once: how it
// ended, or that the client went away (context.Canceled) if it had not.
func (s *stream) Close() error {
	err := s.open.s.Close()
	s.open.cancel()
	if s.ended != nil {
		s.end(s.ended)
	} else {
		s.end(context.Canceled)
	}
	return err
}

func (s *stream) Upstream() llm.Upstream { return s.open.s.Upstream() }

// end reports the stream's outcome; io.EOF is success.
func (s *stream) end(err error) {
	s.once.Do(func() {
		if errors.Is(err, io.EOF) {
			err = nil
		}
		d := s.call.Deployment
		d.ObserveStream(s.ttft, time.Since(s.start), totalTokens(s.usage), upstreamFault(err))
		d.ObserveUsage(totalTokens(s.usage), s.open.s.Upstream().RateLimit)
		s.call.FinishReason = s.finish
		s.call.finish(s.ctx, s.usage, err)
	})
}

// upstreamFault returns err if it says something about the deployment's
// health; a client that went away says nothing about it.
func upstreamFault(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
