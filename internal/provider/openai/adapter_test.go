package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/provider/openai"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/openaisim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "sk-gateway-key-0001"

// upstream is a running fake and an adapter pointed at it.
type upstream struct {
	eng    *sim.Engine
	srv    *httptest.Server
	client *openai.Client
}

// newUpstream starts the OpenAI fake (wrapped by wrap, if non-nil) and
// builds the "openai" provider for deployment "primary" serving gpt-4o.
func newUpstream(t *testing.T, opts openai.Options, wrap func(http.Handler) http.Handler) *upstream {
	t.Helper()
	eng := sim.NewEngine("openai")
	var h http.Handler = openaisim.New(eng, openaisim.Options{APIKeys: []string{key}, Models: []string{"gpt-4o", "text-embedding-3-small"}})
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if opts.BaseURL == "" {
		opts.BaseURL = srv.URL + "/v1"
	}
	if opts.APIKey == "" {
		opts.APIKey = key
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	f, ok := provider.Lookup(openai.Name)
	if !ok {
		t.Fatal("openai is not registered")
	}
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	p, err := f.New(provider.Config{
		Deployment: provider.Deployment{Name: "primary", Model: "gpt-4o"},
		Options:    &opts,
		HTTPClient: &http.Client{Transport: transport},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &upstream{eng: eng, srv: srv, client: p.(*openai.Client)}
}

// lastBody returns the JSON body of the last request the fake received.
func (u *upstream) lastBody(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	reqs := u.eng.Recorder().Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &m); err != nil {
		t.Fatalf("recorded body: %v", err)
	}
	return m
}

func chatRequest(text string) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "client-alias", Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.TextContent(text)}}}
}

func TestChatCompletion(t *testing.T) {
	u := newUpstream(t, openai.Options{}, nil)
	u.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "Bonjour.", CachedTokens: 3}}}})
	req := chatRequest("hello")
	req.Extra = map[string]json.RawMessage{"metadata": json.RawMessage(`{"team":"search"}`), "service_tier": json.RawMessage(`"flex"`)}
	before := *req
	resp, err := u.client.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatalf("ChatCompletion: %v", err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "Bonjour." {
		t.Errorf("content = %q", got)
	}
	if resp.Usage == nil || resp.Usage.CachedTokens() != 3 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
		t.Errorf("usage = %+v", resp.Usage)
	}
	up := resp.Upstream
	if !strings.HasPrefix(up.RequestID, "req_sim") || up.ModelVersion != "gpt-4o" || up.RateLimit.RemainingRequests < 0 || up.RateLimit.RemainingTokens < 0 {
		t.Errorf("upstream = %+v", up)
	}
	if !reflect.DeepEqual(before, *req) {
		t.Errorf("the caller's request was modified: %+v", *req)
	}
	body := u.lastBody(t)
	if string(body["model"]) != `"gpt-4o"` {
		t.Errorf("sent model %s; want the deployment's gpt-4o", body["model"])
	}
	if string(body["metadata"]) != `{"team":"search"}` || string(body["service_tier"]) != `"flex"` {
		t.Errorf("unknown fields did not pass through: metadata=%s service_tier=%s", body["metadata"], body["service_tier"])
	}
	if _, ok := body["stream_options"]; ok {
		t.Error("non-streamed request carried stream_options")
	}
	if h := u.eng.Recorder().Requests()[0].Header.Get("Authorization"); h != "Bearer "+key {
		t.Errorf("authorization = %q", h)
	}
}

func TestHeadersSent(t *testing.T) {
	u := newUpstream(t, openai.Options{Organization: "org-1", Project: "proj-1", Headers: map[string]string{"X-Team": "search"}}, nil)
	if _, err := u.client.ChatCompletion(context.Background(), chatRequest("hi")); err != nil {
		t.Fatal(err)
	}
	h := u.eng.Recorder().Requests()[0].Header
	for name, want := range map[string]string{"Openai-Organization": "org-1", "Openai-Project": "proj-1", "X-Team": "search"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q; want %q", name, got, want)
		}
	}
}

// drain reads a stream to its end and returns its chunks and final error.
func drain(s llm.ChatStream) ([]*llm.ChatChunk, error) {
	var out []*llm.ChatChunk
	for {
		c, err := s.Next()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

func TestStream(t *testing.T) {
	u := newUpstream(t, openai.Options{}, nil)
	u.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "alpha beta gamma", Reasoning: "hmm"}}}})
	req := chatRequest("go") // the client did not ask for usage
	s, err := u.client.StreamChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatalf("StreamChatCompletion: %v", err)
	}
	defer s.Close()
	chunks, err := drain(s)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("stream ended with %v; want io.EOF", err)
	}
	var text, reasoning strings.Builder
	var usage *llm.Usage
	var finish llm.FinishReason
	for _, c := range chunks {
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text.WriteString(*ch.Delta.Content)
			}
			reasoning.WriteString(ch.Delta.ReasoningContent)
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
		if c.Usage != nil {
			usage = c.Usage
		}
	}
	if text.String() != "alpha beta gamma" || reasoning.String() != "hmm" || finish != llm.FinishStop {
		t.Errorf("text %q, reasoning %q, finish %q", text.String(), reasoning.String(), finish)
	}
	if last := chunks[len(chunks)-1]; usage == nil || len(last.Choices) != 0 || last.Usage == nil {
		t.Errorf("usage chunk missing: usage %+v, last chunk %+v", usage, last)
	}
	if s.Upstream().ModelVersion != "gpt-4o" || s.Upstream().RequestID == "" {
		t.Errorf("upstream = %+v", s.Upstream())
	}
	body := u.lastBody(t)
	if string(body["stream_options"]) != `{"include_usage":true}` || string(body["stream"]) != "true" {
		t.Errorf("sent stream=%s stream_options=%s; want usage asked for", body["stream"], body["stream_options"])
	}
	if req.StreamOptions != nil || req.Stream {
		t.Error("the caller's request was modified")
	}
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the end = %v; want io.EOF again", err)
	}
}

func TestStreamToolCalls(t *testing.T) {
	u := newUpstream(t, openai.Options{}, nil)
	u.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{
		{Name: "get_weather", Arguments: `{"city":"Paris"}`},
		{Name: "get_time", Arguments: `{"tz":"Europe/Paris"}`},
	}}}}})
	s, err := u.client.StreamChatCompletion(context.Background(), chatRequest("weather and time"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chunks, err := drain(s)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("end = %v", err)
	}
	type call struct{ id, name, args string }
	calls := map[int]*call{}
	for _, c := range chunks {
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == nil {
					t.Fatalf("tool call delta without index: %+v", tc)
				}
				cl := calls[*tc.Index]
				if cl == nil {
					cl = &call{}
					calls[*tc.Index] = cl
				}
				cl.id += tc.ID
				cl.name += tc.Function.Name
				cl.args += tc.Function.Arguments
			}
		}
	}
	want := map[int]call{0: {"call_1", "get_weather", `{"city":"Paris"}`}, 1: {"call_2", "get_time", `{"tz":"Europe/Paris"}`}}
	for i, w := range want {
		if got := calls[i]; got == nil || *got != w {
			t.Errorf("call %d = %+v; want %+v", i, got, w)
		}
	}
}

func TestStreamTruncatedIsAnError(t *testing.T) {
	u := newUpstream(t, openai.Options{}, nil)
	u.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three four five six"}}}})
	u.eng.SetFaults(&sim.Faults{TruncateAfter: 3})
	s, err := u.client.StreamChatCompletion(context.Background(), chatRequest("go"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	chunks, err := drain(s)
	if errors.Is(err, io.EOF) {
		t.Fatal("a truncated stream ended with io.EOF")
	}
	le, ok := errors.AsType[*llm.Error](err)
	if !ok || le.Status != http.StatusBadGateway || !le.Upstream || !strings.Contains(le.Message, "the stream from deployment primary") || !strings.Contains(le.Message, "ended before completion") {
		t.Errorf("err = %v; want 502 naming the deployment", err)
	}
	if len(chunks) != 3 {
		t.Errorf("got %d chunks before the cut; want 3", len(chunks))
	}
}

func TestStreamCancelClosesUpstream(t *testing.T) {
	handlerDone := make(chan error, 1)
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if r.URL.Path == "/v1/chat/completions" {
				handlerDone <- r.Context().Err()
			}
		})
	}
	u := newUpstream(t, openai.Options{}, wrap)
	u.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: strings.Repeat("word ", 200)}}}})
	u.eng.SetFaults(&sim.Faults{ChunkDelay: 20 * time.Millisecond})

	tests := []struct {
		name string
		stop func(cancel context.CancelFunc, s llm.ChatStream)
	}{
		{"context cancelled", func(cancel context.CancelFunc, _ llm.ChatStream) { cancel() }},
		{"stream closed", func(_ context.CancelFunc, s llm.ChatStream) { s.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := u.client.StreamChatCompletion(ctx, chatRequest("long"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Next(); err != nil {
				t.Fatalf("first chunk: %v", err)
			}
			tt.stop(cancel, s)
			if err := <-handlerDone; !errors.Is(err, context.Canceled) {
				t.Errorf("the fake's request context ended with %v; want context.Canceled", err)
			}
			_, err = s.Next()
			if err == nil || errors.Is(err, io.EOF) {
				t.Errorf("Next after stop = %v; want an error", err)
			}
			if _, ok := errors.AsType[*llm.Error](err); ok {
				t.Errorf("Next after the caller stopped = %v; want a non-upstream error (nobody to blame)", err)
			}
			s.Close()
		})
	}
}

func TestEmbeddings(t *testing.T) {
	tests := []struct {
		name, format string
	}{
		{"float", ""},
		{"base64", "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, openai.Options{}, nil)
			u.client.Deployment.Model = "text-embedding-3-small"
			dims := 6
			resp, err := u.client.Embeddings(context.Background(), &llm.EmbeddingRequest{Model: "alias", Input: llm.TextInput("a", "b"), EncodingFormat: tt.format, Dimensions: &dims})
			if err != nil {
				t.Fatalf("Embeddings: %v", err)
			}
			if len(resp.Data) != 2 || !reflect.DeepEqual(resp.Data[1].Embedding.Floats, openaisim.Vector("b", 6)) {
				t.Errorf("data = %+v", resp.Data)
			}
			if resp.Data[0].Embedding.Base64 != (tt.format == "base64") {
				t.Errorf("base64 = %v; want %v", resp.Data[0].Embedding.Base64, tt.format == "base64")
			}
			body := u.lastBody(t)
			if string(body["model"]) != `"text-embedding-3-small"` {
				t.Errorf("sent model %s", body["model"])
			}
			if tt.format != "" && string(body["encoding_format"]) != `"base64"` {
				t.Errorf("encoding_format did not pass through: %s", body["encoding_format"])
			}
			if resp.Upstream.RequestID == "" {
				t.Error("no upstream request id")
			}
		})
	}
}
