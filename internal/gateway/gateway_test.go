package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/route"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a provider whose streams fail on demand.
type fake struct {
	name string
	// failOpen fails the stream before its first chunk; failAfter cuts it
	// after that many chunks (0 = never).
	failOpen  bool
	failAfter int
	mu        sync.Mutex
	opened    int
}

func (f *fake) ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	if f.failOpen {
		return nil, &llm.Error{Status: 503, Type: llm.TypeOverloaded, Message: f.name + " down", Upstream: true}
	}
	return &llm.ChatResponse{ID: f.name, Choices: []llm.Choice{{Message: llm.Message{Role: "assistant", Content: llm.TextContent("hi from " + f.name)}, FinishReason: "stop"}},
		Usage: &llm.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}}, nil
}

func (f *fake) StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error) {
	f.mu.Lock()
	f.opened++
	f.mu.Unlock()
	return &fakeStream{f: f, ctx: ctx}, nil
}

type fakeStream struct {
	f      *fake
	ctx    context.Context
	n      int
	closed bool
}

func (s *fakeStream) Next() (*llm.ChatChunk, error) {
	if s.f.failOpen {
		return nil, &llm.Error{Status: 503, Type: llm.TypeOverloaded, Message: s.f.name + " down", Upstream: true}
	}
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	s.n++
	if s.f.failAfter > 0 && s.n > s.f.failAfter {
		return nil, &llm.Error{Status: 502, Type: llm.TypeAPI, Message: "stream from " + s.f.name + " ended before completion", Upstream: true}
	}
	if s.n > 3 {
		return nil, io.EOF
	}
	text := s.f.name
	return &llm.ChatChunk{ID: s.f.name, Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &text}}}}, nil
}
func (s *fakeStream) Close() error           { s.closed = true; return nil }
func (s *fakeStream) Upstream() llm.Upstream { return llm.Upstream{} }

// recorder is a stage that logs what the gateway called, in order.
type recorder struct {
	mu     sync.Mutex
	events []string
	refuse error
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) log(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, s)
}
func (r *recorder) Before(ctx context.Context, c *Call) error { r.log("before"); return r.refuse }
func (r *recorder) Answer(ctx context.Context, c *Call, resp *llm.ChatResponse) error {
	r.log("answer")
	return nil
}
func (r *recorder) Stream(ctx context.Context, c *Call, s llm.ChatStream) llm.ChatStream {
	r.log("stream")
	return s
}
func (r *recorder) After(ctx context.Context, c *Call) {
	r.log("after:" + http.StatusText(c.Status()) + ":" + deploymentName(c))
}
func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, ",")
}

func deploymentName(c *Call) string {
	if c.Deployment == nil {
		return "-"
	}
	return c.Deployment.Name
}

func newGateway(t *testing.T, rec *recorder, backends ...*fake) *Gateway {
	t.Helper()
	var deps []*route.Deployment
	var names []string
	for i, b := range backends {
		deps = append(deps, &route.Deployment{Name: b.name, Provider: "fake", Model: "m", Region: "r", ModelVersion: "1", Backend: b, Priority: i, Weight: 1})
		names = append(names, b.name)
	}
	rt, err := route.New(deps, []route.PoolConfig{{Alias: "m", Deployments: names}}, route.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Router: rt, Stages: []Stage{rec}})
}

func ctxFor(models ...string) context.Context {
	return WithRequestInfo(context.Background(), &RequestInfo{ID: "req_1", Caller: &Caller{KeyID: "k", AllowedModels: models}})
}

func chatReq(stream bool) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "m", Stream: stream, Messages: []llm.Message{{Role: "user", Content: llm.TextContent("hi")}}}
}

func drain(t *testing.T, s llm.ChatStream) (string, error) {
	t.Helper()
	var b strings.Builder
	for {
		c, err := s.Next()
		if err != nil {
			s.Close()
			if errors.Is(err, io.EOF) {
				return b.String(), nil
			}
			return b.String(), err
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				b.WriteString(*ch.Delta.Content)
			}
		}
	}
}

func TestStagesRunInOrderAndAfterOnce(t *testing.T) {
	tests := []struct {
		name   string
		run    func(g *Gateway) error
		models []string
		refuse error
		want   string
	}{
		{"chat", func(g *Gateway) error { _, _, err := g.Chat(ctxFor(), chatReq(false)); return err }, nil, nil,
			"before,answer,after:OK:a"},
		{"stream", func(g *Gateway) error {
			s, _, err := g.ChatStream(ctxFor(), chatReq(true))
			if err != nil {
				return err
			}
			_, err = drain(t, s)
			return err
		}, nil, nil, "before,stream,after:OK:a"},
		{"refused by a stage", func(g *Gateway) error { _, _, err := g.Chat(ctxFor(), chatReq(false)); return err }, nil,
			llm.Errorf(429, "slow down"), "before,after:Too Many Requests:-"},
		{"model not allowed", func(g *Gateway) error { _, _, err := g.Chat(ctxFor("other"), chatReq(false)); return err }, []string{"other"}, nil,
			"after:Forbidden:-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{refuse: tt.refuse}
			g := newGateway(t, rec, &fake{name: "a"})
			err := tt.run(g)
			if (tt.refuse != nil || tt.models != nil) != (err != nil) {
				t.Fatalf("err = %v", err)
			}
			if got := rec.String(); got != tt.want {
				t.Errorf("stages %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStreamFailoverOnlyBeforeFirstChunk: a stream whose deployment fails
// before its first chunk is served by the next; one that fails after it
// ends in an error, never a normal end.
func TestStreamFailoverOnlyBeforeFirstChunk(t *testing.T) {
	t.Run("before first chunk", func(t *testing.T) {
		rec := &recorder{}
		a, b := &fake{name: "a", failOpen: true}, &fake{name: "b"}
		g := newGateway(t, rec, a, b)
		s, prov, err := g.ChatStream(ctxFor(), chatReq(true))
		if err != nil {
			t.Fatal(err)
		}
		text, err := drain(t, s)
		if err != nil || text != "bbb" {
			t.Fatalf("text %q err %v", text, err)
		}
		if prov.Deployment != "b" || prov.Attempts != 2 {
			t.Errorf("provenance %+v", prov)
		}
	})
	t.Run("after first chunk", func(t *testing.T) {
		rec := &recorder{}
		a, b := &fake{name: "a", failAfter: 1}, &fake{name: "b"}
		g := newGateway(t, rec, a, b)
		s, _, err := g.ChatStream(ctxFor(), chatReq(true))
		if err != nil {
			t.Fatal(err)
		}
		text, err := drain(t, s)
		var le *llm.Error
		if !errors.As(err, &le) || le.Status != 502 {
			t.Fatalf("err %v, want a 502 *llm.Error", err)
		}
		if text != "a" || b.opened != 0 {
			t.Errorf("text %q, b opened %d: a stream must not fail over after its first chunk", text, b.opened)
		}
		if got := rec.String(); got != "before,stream,after:Bad Gateway:a" {
			t.Errorf("stages %q", got)
		}
	})
	t.Run("client closes early", func(t *testing.T) {
		rec := &recorder{}
		g := newGateway(t, rec, &fake{name: "a"})
		s, _, err := g.ChatStream(ctxFor(), chatReq(true))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close() // twice is harmless
		if got := rec.String(); got != "before,stream,after::a" {
			t.Errorf("stages %q (status 499 has no text)", got)
		}
	})
}

func TestModelsListsOnlyAllowedAliases(t *testing.T) {
	g := newGateway(t, &recorder{}, &fake{name: "a"})
	if got := g.Models(ctxFor("nope")); len(got) != 0 {
		t.Errorf("models %v", got)
	}
	if got := g.Models(ctxFor()); len(got) != 1 || got[0] != "m" {
		t.Errorf("models %v", got)
	}
}
