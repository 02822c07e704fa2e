package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/provider/anthropic"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/anthropicsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "sk-ant-gw-key"

type fixture struct {
	eng *sim.Engine
	srv *httptest.Server
	p   provider.Provider
}

func newFixture(t *testing.T, mutate ...func(*anthropic.Options)) fixture {
	t.Helper()
	eng := sim.NewEngine("anthropic")
	srv := httptest.NewServer(anthropicsim.New(eng, anthropicsim.Options{APIKeys: []string{key}}))
	t.Cleanup(srv.Close)
	opts := &anthropic.Options{BaseURL: srv.URL, APIKey: key, Beta: []string{"prompt-caching-2024-07-31"}}
	for _, m := range mutate {
		m(opts)
	}
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	f, ok := provider.Lookup(anthropic.Name)
	if !ok {
		t.Fatal("anthropic is not registered")
	}
	p, err := f.New(provider.Config{
		Deployment: provider.Deployment{Name: "claude-prod", Model: "claude-sonnet-4-5"},
		Options:    opts,
		HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{eng: eng, srv: srv, p: p}
}

func userReq(text string) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "claude", Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: llm.TextContent("Be brief.")},
		{Role: llm.RoleUser, Content: llm.TextContent(text)},
	}}
}

// lastBody returns the last request body the fake received, decoded.
func lastBody(t *testing.T, eng *sim.Engine) (map[string]any, http.Header) {
	t.Helper()
	reqs := eng.Recorder().Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received nothing")
	}
	var m map[string]any
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &m); err != nil {
		t.Fatal(err)
	}
	return m, reqs[len(reqs)-1].Header
}

func TestChatCompletion_Plain(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Contains: "hello", Reply: sim.Reply{Text: "Hi.", PromptTokens: 30, CachedTokens: 20, CompletionTokens: 2}}}})
	req := userReq("hello")
	before, _ := json.Marshal(req)
	resp, err := f.p.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(req); string(before) != string(after) {
		t.Errorf("request modified:\n%s\n%s", before, after)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "Hi." || resp.Choices[0].FinishReason != llm.FinishStop {
		t.Errorf("answer %q finish %q", got, resp.Choices[0].FinishReason)
	}
	u := resp.Usage
	if u.PromptTokens != 30 || u.CachedTokens() != 20 || u.CompletionTokens != 2 || u.TotalTokens != 32 {
		t.Errorf("usage %+v %+v", u, u.PromptTokensDetails)
	}
	if resp.Created == 0 || resp.Upstream.RequestID == "" || resp.Upstream.RateLimit.RemainingRequests != 999 || resp.Upstream.ModelVersion != "claude-sonnet-4-5" {
		t.Errorf("created %d upstream %+v", resp.Created, resp.Upstream)
	}
	body, h := lastBody(t, f.eng)
	if h.Get("x-api-key") != key || h.Get("anthropic-version") != "2023-06-01" || h.Get("anthropic-beta") != "prompt-caching-2024-07-31" {
		t.Errorf("headers %v", h)
	}
	if body["model"] != "claude-sonnet-4-5" || body["max_tokens"] != float64(4096) || body["system"] != "Be brief." || body["stream"] != nil {
		t.Errorf("body %v", body)
	}
}

func TestChatCompletion_DefaultMaxTokensOption(t *testing.T) {
	f := newFixture(t, func(o *anthropic.Options) { o.DefaultMaxTokens = 77; o.Version = "2024-01-01" })
	if _, err := f.p.ChatCompletion(context.Background(), userReq("hi")); err != nil {
		t.Fatal(err)
	}
	body, h := lastBody(t, f.eng)
	if body["max_tokens"] != float64(77) || h.Get("anthropic-version") != "2024-01-01" {
		t.Errorf("max_tokens %v version %q", body["max_tokens"], h.Get("anthropic-version"))
	}
}

func TestStream_Text(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three", PromptTokens: 9, CachedTokens: 4}}}})
	req := userReq("count")
	req.Stream = true
	chunks, err := collect(t, f.p, req)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var finish llm.FinishReason
	var usage *llm.Usage
	for _, c := range chunks {
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
		if c.Usage != nil {
			usage = c.Usage
		}
	}
	if text.String() != "one two three" || finish != llm.FinishStop {
		t.Errorf("text %q finish %q", text.String(), finish)
	}
	if usage == nil || usage.PromptTokens != 9 || usage.CachedTokens() != 4 || usage.CompletionTokens == 0 {
		t.Errorf("usage %+v", usage)
	}
	if body, _ := lastBody(t, f.eng); body["stream"] != true {
		t.Errorf("stream flag not sent: %v", body)
	}
}

func collect(t *testing.T, p provider.Provider, req *llm.ChatRequest) ([]*llm.ChatChunk, error) {
	t.Helper()
	s, err := p.StreamChatCompletion(context.Background(), req)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out []*llm.ChatChunk
	for {
		c, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

var weatherTool = llm.Tool{Type: "function", Function: llm.FunctionDef{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)},
	CacheControl: &llm.CacheControl{Type: "ephemeral"}}

func TestStream_ToolsThenToolResultTurn(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{
		{Contains: "weather", Reply: sim.Reply{Reasoning: "Use the tool.", ToolCalls: []sim.ToolCallSpec{
			{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`},
			{Name: "get_weather", Arguments: `{"city":"Rome","unit":"celsius"}`},
		}}},
		{AfterToolResult: true, Reply: sim.Reply{Text: "Both warm."}},
	}})
	req := userReq("weather in Paris and Rome?")
	req.Tools = []llm.Tool{weatherTool}
	req.Stream = true
	chunks, err := collect(t, f.p, req)
	if err != nil {
		t.Fatal(err)
	}
	// Accumulate the deltas as an OpenAI client would.
	var calls []llm.ToolCall
	var reasoning string
	var thinking []llm.ThinkingBlock
	var finish llm.FinishReason
	for _, c := range chunks {
		for _, ch := range c.Choices {
			reasoning += ch.Delta.ReasoningContent
			thinking = append(thinking, ch.Delta.ThinkingBlocks...)
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
			for _, tc := range ch.Delta.ToolCalls {
				if *tc.Index == len(calls) {
					calls = append(calls, llm.ToolCall{ID: tc.ID, Type: "function", Function: llm.FunctionCall{Name: tc.Function.Name}})
				}
				calls[*tc.Index].Function.Arguments += tc.Function.Arguments
			}
		}
	}
	if finish != llm.FinishToolCalls || len(calls) != 2 || calls[1].Function.Arguments != `{"city":"Rome","unit":"celsius"}` || !strings.HasPrefix(calls[0].ID, "toolu_") {
		t.Fatalf("finish %q calls %+v", finish, calls)
	}
	if reasoning != "Use the tool." || len(thinking) != 1 || thinking[0].Signature == "" || thinking[0].Thinking != reasoning {
		t.Fatalf("reasoning %q thinking %+v", reasoning, thinking)
	}
	body, _ := lastBody(t, f.eng)
	tools := body["tools"].([]any)
	if cc := tools[0].(map[string]any)["cache_control"]; !reflect.DeepEqual(cc, map[string]any{"type": "ephemeral"}) {
		t.Errorf("tool cache_control not passed through: %v", tools[0])
	}

	// The next turn replays the signed thinking and sends both results in
	// one user message; the fake rejects the turn otherwise.
	next := userReq("weather in Paris and Rome?")
	next.Tools = []llm.Tool{weatherTool}
	next.Messages = append(next.Messages,
		llm.Message{Role: llm.RoleAssistant, ToolCalls: calls, ThinkingBlocks: thinking},
		llm.Message{Role: llm.RoleTool, ToolCallID: calls[0].ID, Content: llm.TextContent("21C")},
		llm.Message{Role: llm.RoleTool, ToolCallID: calls[1].ID, Content: llm.TextContent("24C")},
	)
	resp, err := f.p.ChatCompletion(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content.String() != "Both warm." {
		t.Errorf("after tool results: %+v", resp.Choices[0].Message)
	}
	body, _ = lastBody(t, f.eng)
	msgs := body["messages"].([]any)
	if len(msgs) != 3 {
		t.Fatalf("messages %v", msgs)
	}
	asst := msgs[1].(map[string]any)["content"].([]any)
	if asst[0].(map[string]any)["type"] != "thinking" || asst[0].(map[string]any)["signature"] != thinking[0].Signature {
		t.Errorf("thinking not replayed first: %v", asst)
	}
	if results := msgs[2].(map[string]any)["content"].([]any); len(results) != 2 {
		t.Errorf("tool results not merged: %v", results)
	}
}

func TestChatCompletion_ImagesAndCacheControl(t *testing.T) {
	f := newFixture(t)
	req := &llm.ChatRequest{Model: "claude", Messages: []llm.Message{
		{Role: llm.RoleSystem, Content: llm.PartsContent(llm.Part{Type: llm.PartText, Text: "Long policy", CacheControl: &llm.CacheControl{Type: "ephemeral", TTL: "1h"}})},
		{Role: llm.RoleUser, Content: llm.PartsContent(
			llm.Part{Type: llm.PartText, Text: "What is this?"},
			llm.Part{Type: llm.PartImage, ImageURL: &llm.ImageURL{URL: "data:image/png;base64,iVBORw0KGgo="}},
			llm.Part{Type: llm.PartImage, ImageURL: &llm.ImageURL{URL: "https://example.com/cat.jpg"}},
		)},
	}}
	if _, err := f.p.ChatCompletion(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	body, _ := lastBody(t, f.eng)
	sys := body["system"].([]any)[0].(map[string]any)
	if !reflect.DeepEqual(sys["cache_control"], map[string]any{"type": "ephemeral", "ttl": "1h"}) {
		t.Errorf("system cache_control: %v", sys)
	}
	content := body["messages"].([]any)[0].(map[string]any)["content"].([]any)
	img := content[1].(map[string]any)["source"].(map[string]any)
	url := content[2].(map[string]any)["source"].(map[string]any)
	if img["type"] != "base64" || img["media_type"] != "image/png" || img["data"] != "iVBORw0KGgo=" || url["type"] != "url" {
		t.Errorf("images %v %v", img, url)
	}
}

func TestChatCompletion_StructuredOutput(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: `{"name":"Ada"}`}}}})
	req := userReq("invent a person")
	req.ResponseFormat = &llm.ResponseFormat{Type: "json_schema", JSONSchema: &llm.JSONSchema{Name: "person", Schema: json.RawMessage(`{"type":"object"}`)}}
	resp, err := f.p.ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != `{"name":"Ada"}` || resp.Choices[0].FinishReason != llm.FinishStop || len(resp.Choices[0].Message.ToolCalls) != 0 {
		t.Errorf("structured answer %q finish %q", got, resp.Choices[0].FinishReason)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		faults     sim.Faults
		apiKey     string
		wantStatus int
		wantType   string
		wantRetry  time.Duration
		wantInMsg  string
	}{
		{"rate limited", sim.Faults{FailEvery: 1, ErrorStatus: 429, RetryAfter: 7 * time.Second}, key, 429, llm.TypeRateLimit, 7 * time.Second, "rate limited"},
		{"bad request", sim.Faults{FailEvery: 1, ErrorStatus: 400}, key, 400, llm.TypeInvalidRequest, 0, "Anthropic rejected the request"},
		{"gateway key refused", sim.Faults{}, "wrong-key", 502, llm.TypeAPI, 0, "api_key"},
		{"forbidden", sim.Faults{FailEvery: 1, ErrorStatus: 403}, key, 502, llm.TypeAPI, 0, "claude-prod"},
		{"not found", sim.Faults{FailEvery: 1, ErrorStatus: 404}, key, 502, llm.TypeAPI, 0, "claude-sonnet-4-5"},
		{"too large", sim.Faults{FailEvery: 1, ErrorStatus: 413}, key, 413, llm.TypeInvalidRequest, 0, "too large"},
		{"server error", sim.Faults{FailEvery: 1, ErrorStatus: 500}, key, 502, llm.TypeAPI, 0, "500"},
		{"overloaded", sim.Faults{Down: true}, key, 503, llm.TypeOverloaded, 0, "overloaded"},
		{"overloaded with retry", sim.Faults{FailEvery: 1, ErrorStatus: 503, RetryAfter: 2 * time.Second}, key, 503, llm.TypeOverloaded, 2 * time.Second, "retry later"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *anthropic.Options) { o.APIKey = tt.apiKey })
			f.eng.SetFaults(&tt.faults)
			for _, stream := range []bool{false, true} {
				req := userReq("hi")
				var err error
				if stream {
					_, err = f.p.StreamChatCompletion(context.Background(), req)
				} else {
					_, err = f.p.ChatCompletion(context.Background(), req)
				}
				var le *llm.Error
				if !errors.As(err, &le) {
					t.Fatalf("stream=%v: err = %v, want *llm.Error", stream, err)
				}
				if le.Status != tt.wantStatus || le.Type != tt.wantType || le.RetryAfter != tt.wantRetry || !le.Upstream || !strings.Contains(le.Message, tt.wantInMsg) {
					t.Errorf("stream=%v: got %d %s retry %v upstream %v %q", stream, le.Status, le.Type, le.RetryAfter, le.Upstream, le.Message)
				}
			}
		})
	}
}

func TestTranslationErrorsNeverReachUpstream(t *testing.T) {
	f := newFixture(t)
	n := 3
	req := userReq("hi")
	req.N = &n
	_, err := f.p.ChatCompletion(context.Background(), req)
	var le *llm.Error
	if !errors.As(err, &le) || le.Status != 400 || le.Param != "n" || !strings.Contains(le.Message, "claude-prod") {
		t.Fatalf("err = %v", err)
	}
	if f.eng.Recorder().Count() != 0 {
		t.Error("a request Anthropic cannot express was sent anyway")
	}
}

func TestStream_TruncatedIsAnError(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "a b c d e f"}}}})
	f.eng.SetFaults(&sim.Faults{TruncateAfter: 2})
	chunks, err := collect(t, f.p, userReq("x"))
	var le *llm.Error
	if !errors.As(err, &le) || le.Status != http.StatusBadGateway || !strings.Contains(le.Message, "message_stop") {
		t.Fatalf("err = %v, want a 502 naming the missing message_stop", err)
	}
	if len(chunks) == 0 {
		t.Error("no chunks before the cut")
	}
}

func TestStream_CancelMidStream(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: strings.Repeat("word ", 200)}}}})
	f.eng.SetFaults(&sim.Faults{ChunkDelay: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := f.p.StreamChatCompletion(ctx, userReq("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	for {
		if _, err = s.Next(); err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		t.Error("a cancelled stream ended as if complete")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	_ = s.Close() // a second Close is harmless
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts anthropic.Options
		want string
	}{
		{"ok", anthropic.Options{APIKey: "k"}, ""},
		{"no key", anthropic.Options{}, "api_key"},
		{"bad url", anthropic.Options{APIKey: "k", BaseURL: "ftp://x"}, "base_url"},
		{"negative max", anthropic.Options{APIKey: "k", DefaultMaxTokens: -1}, "default_max_tokens"},
		{"bad beta", anthropic.Options{APIKey: "k", Beta: []string{"a,b"}}, "beta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want mention of %q", err, tt.want)
			}
		})
	}
}
