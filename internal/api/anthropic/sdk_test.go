package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/api"
	"github.com/switchyard/switchyard/internal/api/anthropic"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const clientKey = "sk-sy-test"

// backend is a canned api.Backend that records what it was asked.
type backend struct {
	mu     sync.Mutex
	got    []*llm.ChatRequest // guarded by mu
	resp   *llm.ChatResponse
	chunks []*llm.ChatChunk
	// streamErr ends the stream after the chunks instead of io.EOF.
	streamErr error
	// block makes the stream wait for its context after the chunks.
	block  bool
	err    error
	closed chan struct{}
}

var prov = gateway.Provenance{Provider: "openai", Deployment: "gpt-eu", Region: "westeurope", ModelVersion: "gpt-4o-2024-08-06", Attempts: 1}

func (b *backend) record(ctx context.Context, req *llm.ChatRequest) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if info := gateway.RequestInfoFrom(ctx); info == nil || info.FrontDoor != anthropic.FrontDoor {
		panic("request info missing from ctx")
	}
	b.got = append(b.got, req)
}

func (b *backend) last() *llm.ChatRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got[len(b.got)-1]
}

func (b *backend) Chat(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, gateway.Provenance, error) {
	b.record(ctx, req)
	return b.resp, prov, b.err
}

func (b *backend) ChatStream(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, gateway.Provenance, error) {
	b.record(ctx, req)
	if b.err != nil {
		return nil, prov, b.err
	}
	return &stream{ctx: ctx, b: b}, prov, nil
}

func (b *backend) Embeddings(context.Context, *llm.EmbeddingRequest) (*llm.EmbeddingResponse, gateway.Provenance, error) {
	return nil, gateway.Provenance{}, errors.New("not used")
}

func (b *backend) Models(context.Context) []string { return []string{"claude"} }

type stream struct {
	ctx  context.Context
	b    *backend
	i    int
	once sync.Once
}

func (s *stream) Next() (*llm.ChatChunk, error) {
	if s.i < len(s.b.chunks) {
		s.i++
		return s.b.chunks[s.i-1], nil
	}
	if s.b.block {
		<-s.ctx.Done()
		return nil, s.ctx.Err()
	}
	if s.b.streamErr != nil {
		return nil, s.b.streamErr
	}
	return nil, io.EOF
}

func (s *stream) Close() error {
	s.once.Do(func() {
		if s.b.closed != nil {
			close(s.b.closed)
		}
	})
	return nil
}

func (s *stream) Upstream() llm.Upstream { return llm.Upstream{} }

type auth struct{}

func (auth) Authenticate(_ context.Context, secret string) (*gateway.Caller, error) {
	if secret != clientKey {
		return nil, errors.New("unknown key")
	}
	return &gateway.Caller{KeyID: "k1"}, nil
}

func serve(t *testing.T, b *backend, opts anthropic.Options) (*httptest.Server, sdk.Client) {
	t.Helper()
	h := api.RequestID(api.WithCaller(auth{}, anthropic.FrontDoor, anthropic.WriteError, anthropic.New(b, opts)))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := sdk.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey(clientKey), option.WithHTTPClient(srv.Client()), option.WithMaxRetries(0))
	return srv, client
}

var weatherTool = sdk.ToolUnionParam{OfTool: &sdk.ToolParam{
	Name:        "get_weather",
	InputSchema: sdk.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}},
}}

func params() sdk.MessageNewParams {
	return sdk.MessageNewParams{
		Model:     "claude",
		MaxTokens: 300,
		System:    []sdk.TextBlockParam{{Text: "Be brief."}},
		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("Weather in Paris?"))},
		Tools:     []sdk.ToolUnionParam{weatherTool},
	}
}

func TestSDK_MessagesNew(t *testing.T) {
	b := &backend{resp: &llm.ChatResponse{ID: "chatcmpl-1", Object: "chat.completion", Model: "gpt-4o", Choices: []llm.Choice{{
		Message: llm.Message{Role: llm.RoleAssistant, Content: llm.TextContent("Checking."), ToolCalls: []llm.ToolCall{
			{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		FinishReason: llm.FinishToolCalls,
	}}, Usage: &llm.Usage{PromptTokens: 120, CompletionTokens: 9, TotalTokens: 129, PromptTokensDetails: &llm.PromptTokensDetails{CachedTokens: 100}}}}
	srv, client := serve(t, b, anthropic.Options{})
	var raw *http.Response
	msg, err := client.Messages.New(context.Background(), params(), option.WithResponseInto(&raw))
	if err != nil {
		t.Fatal(err)
	}
	if msg.StopReason != sdk.StopReasonToolUse || len(msg.Content) != 2 || msg.Content[0].Text != "Checking." || msg.Content[1].Name != "get_weather" || string(msg.Content[1].Input) != `{"city":"Paris"}` {
		t.Errorf("message %s", msg.RawJSON())
	}
	if msg.Usage.InputTokens != 20 || msg.Usage.CacheReadInputTokens != 100 || msg.Usage.OutputTokens != 9 {
		t.Errorf("usage %+v", msg.Usage)
	}
	if raw.Header.Get("X-Switchyard-Deployment") != "gpt-eu" || raw.Header.Get("request-id") == "" {
		t.Errorf("headers %v", raw.Header)
	}
	got := b.last()
	if got.Model != "claude" || got.MaxOutputTokens() != 300 || got.Messages[0].Role != llm.RoleSystem || len(got.Tools) != 1 || got.Stream {
		t.Errorf("backend got %+v", got)
	}
	_ = srv
}

func textChunk(s string) *llm.ChatChunk {
	return &llm.ChatChunk{ID: "chatcmpl-9", Object: "chat.completion.chunk", Model: "gpt-4o", Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: &s}}}}
}

func TestSDK_StreamAccumulate(t *testing.T) {
	zero := 0
	b := &backend{chunks: []*llm.ChatChunk{
		textChunk("Let me "),
		textChunk("check."),
		{Choices: []llm.ChunkChoice{{Delta: llm.Delta{ToolCalls: []llm.ToolCall{{Index: &zero, ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather"}}}}}}},
		{Choices: []llm.ChunkChoice{{Delta: llm.Delta{ToolCalls: []llm.ToolCall{{Index: &zero, Function: llm.FunctionCall{Arguments: `{"city":`}}}}}}},
		{Choices: []llm.ChunkChoice{{Delta: llm.Delta{ToolCalls: []llm.ToolCall{{Index: &zero, Function: llm.FunctionCall{Arguments: `"Paris"}`}}}}}}},
		{Choices: []llm.ChunkChoice{{FinishReason: llm.FinishToolCalls}}},
		{Choices: []llm.ChunkChoice{}, Usage: &llm.Usage{PromptTokens: 50, CompletionTokens: 12, TotalTokens: 62}},
	}}
	_, client := serve(t, b, anthropic.Options{})
	s := client.Messages.NewStreaming(context.Background(), params())
	defer s.Close()
	var msg sdk.Message
	for s.Next() {
		if err := msg.Accumulate(s.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 2 || msg.Content[0].Text != "Let me check." || msg.Content[1].ID != "call_1" || string(msg.Content[1].Input) != `{"city":"Paris"}` {
		t.Errorf("accumulated %s", msg.RawJSON())
	}
	if msg.StopReason != sdk.StopReasonToolUse || msg.Usage.InputTokens != 50 || msg.Usage.OutputTokens != 12 {
		t.Errorf("stop %q usage %+v", msg.StopReason, msg.Usage)
	}
	if got := b.last(); !got.Stream || !got.IncludeUsage() {
		t.Errorf("backend request stream=%v include_usage=%v", got.Stream, got.IncludeUsage())
	}
}

func TestSDK_MidStreamErrorSurfaces(t *testing.T) {
	b := &backend{chunks: []*llm.ChatChunk{textChunk("Part")}, streamErr: &llm.Error{Status: 503, Type: llm.TypeOverloaded, Message: "deployment gpt-eu is overloaded; retry later", Upstream: true}}
	_, client := serve(t, b, anthropic.Options{})
	s := client.Messages.NewStreaming(context.Background(), params())
	defer s.Close()
	var types []string
	for s.Next() {
		types = append(types, s.Current().Type)
	}
	err := s.Err()
	if err == nil || !strings.Contains(err.Error(), "overloaded") {
		t.Fatalf("stream err = %v, want the overloaded error", err)
	}
	for _, ty := range types {
		if ty == "message_stop" {
			t.Errorf("message_stop sent after an error: %v", types)
		}
	}
}

func TestSDK_BackendErrors(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		status    int
		typ       string
		retry     string
		wantInMsg string
	}{
		{"rate limit", &llm.Error{Status: 429, Type: llm.TypeRateLimit, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429, "rate_limit_error", "2", "slow down"},
		{"bad request", llm.BadRequest("temperature", "temperature 1.5 is out of range"), 400, "invalid_request_error", "", "temperature"},
		{"not found", llm.Errorf(404, "model alias claude is not configured"), 404, "not_found_error", "", "claude"},
		{"forbidden", llm.Errorf(403, "your key may not use model claude"), 403, "permission_error", "", "may not"},
		{"overloaded", &llm.Error{Status: 503, Type: llm.TypeOverloaded, Message: "every deployment is overloaded"}, 503, "overloaded_error", "", "overloaded"},
		{"internal", errors.New("secret detail"), 500, "api_error", "", "request id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, streaming := range []bool{false, true} {
				_, client := serve(t, &backend{err: tt.err}, anthropic.Options{})
				var err error
				if streaming {
					s := client.Messages.NewStreaming(context.Background(), params())
					for s.Next() {
					}
					err = s.Err()
					s.Close()
				} else {
					_, err = client.Messages.New(context.Background(), params())
				}
				var apiErr *sdk.Error
				if !errors.As(err, &apiErr) {
					t.Fatalf("streaming=%v: err = %v, want *anthropic.Error", streaming, err)
				}
				if apiErr.StatusCode != tt.status || string(apiErr.Type()) != tt.typ || !strings.Contains(apiErr.Message, tt.wantInMsg) || apiErr.RequestID == "" {
					t.Errorf("streaming=%v: %d %q %q request-id %q", streaming, apiErr.StatusCode, apiErr.Type(), apiErr.Message, apiErr.RequestID)
				}
				if strings.Contains(apiErr.Message, "secret detail") {
					t.Error("internal error detail leaked to the client")
				}
				if got := apiErr.Response.Header.Get("retry-after"); got != tt.retry {
					t.Errorf("retry-after %q, want %q", got, tt.retry)
				}
			}
		})
	}
}

func TestSDK_CountTokens(t *testing.T) {
	b := &backend{}
	_, client := serve(t, b, anthropic.Options{})
	n, err := client.Messages.CountTokens(context.Background(), sdk.MessageCountTokensParams{
		Model:    "claude",
		Messages: []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock(strings.Repeat("abcd", 25)))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n.InputTokens != 25 {
		t.Errorf("estimate %d, want 25 (one per 4 bytes)", n.InputTokens)
	}
	if len(b.got) != 0 {
		t.Error("count_tokens called a backend")
	}
}

// TestRawErrors covers what an SDK never sends but a hand-written client may.
func TestRawErrors(t *testing.T) {
	tests := []struct {
		name, method, path, key, body string
		status                        int
		typ, wantInMsg                string
	}{
		{"no key", "POST", "/v1/messages", "", `{}`, 401, "authentication_error", "API key"},
		{"bad key", "POST", "/v1/messages", "nope", `{}`, 401, "authentication_error", "invalid API key"},
		{"bad json", "POST", "/v1/messages", clientKey, `{"model":`, 400, "invalid_request_error", "not a valid Messages request"},
		{"missing max_tokens", "POST", "/v1/messages", clientKey, `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "max_tokens"},
		{"unknown field", "POST", "/v1/messages", clientKey, `{"model":"claude","max_tokens":5,"mcp_servers":[],"messages":[{"role":"user","content":"hi"}]}`, 400, "invalid_request_error", "mcp_servers"},
		{"too large", "POST", "/v1/messages", clientKey, `{"model":"claude","max_tokens":5,"messages":[{"role":"user","content":"` + strings.Repeat("x", 300) + `"}]}`, 413, "request_too_large", "limit"},
		{"unknown path", "POST", "/v1/complete", clientKey, `{}`, 404, "not_found_error", "/v1/messages"},
		{"wrong method", "GET", "/v1/messages", clientKey, ``, 405, "invalid_request_error", "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := serve(t, &backend{}, anthropic.Options{MaxBodyBytes: 256})
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.key != "" {
				req.Header.Set("x-api-key", tt.key)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
				RequestID string `json:"request_id"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tt.status || body.Type != "error" || body.Error.Type != tt.typ || !strings.Contains(body.Error.Message, tt.wantInMsg) || body.RequestID == "" {
				t.Errorf("%d %+v", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content-type %q", ct)
			}
		})
	}
}

func TestClientDisconnectClosesStream(t *testing.T) {
	b := &backend{chunks: []*llm.ChatChunk{textChunk("first")}, block: true, closed: make(chan struct{})}
	_, client := serve(t, b, anthropic.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	s := client.Messages.NewStreaming(ctx, params())
	for s.Next() {
		if s.Current().Type == "content_block_delta" {
			cancel()
			break
		}
	}
	s.Close()
	cancel()
	select {
	case <-b.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend stream was not closed after the client went away")
	}
}
