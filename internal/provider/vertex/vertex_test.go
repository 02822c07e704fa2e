package vertex

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/vertexsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a running Vertex AI simulator and a provider wired to it.
type fake struct {
	engine       *sim.Engine
	url          string
	account      *vertexsim.ServiceAccount
	tokenFetches atomic.Int64
}

func startFake(t *testing.T, opts vertexsim.Options) *fake {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{engine: sim.NewEngine("vertex"), url: "http://" + l.Addr().String()}
	f.account, err = vertexsim.NewServiceAccount("sim-project", f.url+"/token")
	if err != nil {
		t.Fatal(err)
	}
	opts.Accounts = append(opts.Accounts, f.account)
	h := vertexsim.New(f.engine, opts)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			f.tokenFetches.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// provider returns a Gemini 2.0 provider for the fake; edit may change its options.
func (f *fake) provider(t *testing.T, edit func(*Options)) provider.Provider {
	t.Helper()
	return f.providerFor(t, "gemini-2.0-flash", edit)
}

// providerFor returns a provider for the fake serving the given model id.
func (f *fake) providerFor(t *testing.T, model string, edit func(*Options)) provider.Provider {
	t.Helper()
	o := &Options{Project: "sim-project", Location: "us-central1", Endpoint: f.url, CredentialsJSON: string(f.account.KeyJSON)}
	if edit != nil {
		edit(o)
	}
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	p, err := New(provider.Config{
		Deployment: provider.Deployment{Name: "gemini-eu", Model: model},
		Options:    o,
		HTTPClient: &http.Client{Transport: transport},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fake) lastBody(t *testing.T) map[string]any {
	t.Helper()
	reqs := f.engine.Recorder().Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	var m map[string]any
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func userRequest(text string) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "alias", Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.TextContent(text)}}}
}

func TestChatCompletion(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	f.engine.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "Bonjour tout le monde", Reasoning: "French it is", PromptTokens: 40, CachedTokens: 32}}}})
	resp, err := f.provider(t, nil).ChatCompletion(t.Context(), userRequest("Say hello"))
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Choices[0]
	if c.Message.Content.String() != "Bonjour tout le monde" || c.FinishReason != llm.FinishStop || c.Message.ReasoningContent != "French it is" {
		t.Errorf("choice = %+v, want the scripted text, its reasoning and stop", c)
	}
	u := resp.Usage
	if u == nil || u.PromptTokens != 40 || u.CachedTokens() != 32 || u.CompletionTokensDetails.ReasoningTokens != 3 || u.CompletionTokens != 7 || u.TotalTokens != 47 {
		t.Errorf("usage = %+v, want 40 prompt (32 cached), 7 completion of which 3 reasoning", u)
	}
	if resp.Model != "gemini-2.0-flash" || !strings.HasPrefix(resp.ID, "chatcmpl-") {
		t.Errorf("id %q model %q", resp.ID, resp.Model)
	}
	rec := f.engine.Recorder().Requests()[0]
	if rec.Path != "/v1/projects/sim-project/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent" {
		t.Errorf("path = %s", rec.Path)
	}
	if !strings.HasPrefix(rec.Header.Get("Authorization"), "Bearer ya29.sim-") {
		t.Errorf("authorization = %q, want a token the fake issued", rec.Header.Get("Authorization"))
	}
}

func TestStreamChatCompletion(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	f.engine.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three", CachedTokens: 1}}}})
	s, err := f.provider(t, nil).StreamChatCompletion(t.Context(), userRequest("count"))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := drain(s)
	if err != io.EOF {
		t.Fatalf("stream ended with %v, want io.EOF", err)
	}
	if len(chunks) < 4 || chunks[0].Choices[0].Delta.Role != llm.RoleAssistant {
		t.Fatalf("chunks = %d, first must carry the role", len(chunks))
	}
	var text strings.Builder
	var finish llm.FinishReason
	for _, c := range chunks[:len(chunks)-1] {
		if d := c.Choices[0].Delta.Content; d != nil {
			text.WriteString(*d)
		}
		if c.Choices[0].FinishReason != "" {
			finish = c.Choices[0].FinishReason
		}
	}
	last := chunks[len(chunks)-1]
	if text.String() != "one two three" || finish != llm.FinishStop {
		t.Errorf("text %q finish %q", text.String(), finish)
	}
	if len(last.Choices) != 0 || last.Usage == nil || last.Usage.CompletionTokens != 3 || last.Usage.CachedTokens() != 1 {
		t.Errorf("last chunk = %+v, want usage only", last)
	}
	if got := f.engine.Recorder().Requests()[0]; !strings.HasSuffix(got.Path, ":streamGenerateContent") || got.Query != "alt=sse" {
		t.Errorf("request %s?%s, want :streamGenerateContent?alt=sse", got.Path, got.Query)
	}
}

func TestToolRoundTripCarriesThoughtSignature(t *testing.T) {
	f := startFake(t, vertexsim.Options{RequireThoughtSignatures: true})
	f.engine.SetScript(&sim.Script{Rules: []sim.Rule{
		{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{AfterToolResult: true, Reply: sim.Reply{Text: "It is 21C in Paris."}},
	}})
	p := f.provider(t, nil)
	req := userRequest("What is the weather in Paris?")
	req.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "get_weather",
		Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`)}}}
	resp, err := p.ChatCompletion(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	msg := resp.Choices[0].Message
	if resp.Choices[0].FinishReason != llm.FinishToolCalls || len(msg.ToolCalls) != 1 {
		t.Fatalf("choice = %+v, want one tool call", resp.Choices[0])
	}
	tc := msg.ToolCalls[0]
	if tc.Function.Name != "get_weather" || tc.Function.Arguments != `{"city":"Paris"}` || tc.ThoughtSignature == "" || !isSynthesizedID(tc.ID) {
		t.Fatalf("tool call = %+v, want get_weather with arguments, a signature and a synthesized id", tc)
	}
	req.Messages = append(req.Messages, msg, llm.Message{Role: llm.RoleTool, ToolCallID: tc.ID, Content: llm.TextContent("21C")})
	resp, err = p.ChatCompletion(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "It is 21C in Paris." {
		t.Errorf("answer = %q", got)
	}
	fr := f.lastBody(t)["contents"].([]any)[2].(map[string]any)["parts"].([]any)[0].(map[string]any)["functionResponse"].(map[string]any)
	if fr["name"] != "get_weather" || fr["id"] != nil || fr["response"].(map[string]any)["content"] != "21C" {
		t.Errorf("functionResponse = %v, want name get_weather, no id, response {content: 21C}", fr)
	}

	if got := f.lastBody(t)["contents"].([]any)[1].(map[string]any)["parts"].([]any)[0].(map[string]any)["thoughtSignature"]; got != tc.ThoughtSignature {
		t.Errorf("thoughtSignature sent back = %v, want %q", got, tc.ThoughtSignature)
	}
}

func TestImagesAndJSONFormat(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	p := f.provider(t, nil)
	req := &llm.ChatRequest{Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.PartsContent(
		llm.Part{Type: llm.PartText, Text: "Describe"},
		llm.Part{Type: llm.PartImage, ImageURL: &llm.ImageURL{URL: "data:image/png;base64,iVBORw0KGgo="}},
		llm.Part{Type: llm.PartImage, ImageURL: &llm.ImageURL{URL: "gs://b/cat.png"}},
	)}},
		ResponseFormat: &llm.ResponseFormat{Type: "json_schema", JSONSchema: &llm.JSONSchema{Name: "d",
			Schema: json.RawMessage(`{"type":"object","properties":{"answer":{"type":"string"}}}`)}}}
	resp, err := p.ChatCompletion(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content.String()), &out); err != nil || !strings.Contains(out["answer"], "Describe") {
		t.Errorf("content %q is not the JSON answer: %v", resp.Choices[0].Message.Content.String(), err)
	}
	body := f.lastBody(t)
	parts := body["contents"].([]any)[0].(map[string]any)["parts"].([]any)
	if parts[1].(map[string]any)["inlineData"] == nil || parts[2].(map[string]any)["fileData"] == nil {
		t.Errorf("parts = %v, want inlineData then fileData", parts)
	}
	if gc := body["generationConfig"].(map[string]any); gc["responseMimeType"] != "application/json" || gc["responseSchema"] == nil {
		t.Errorf("generationConfig = %v", gc)
	}
}

func assertError(t *testing.T, err error, status int, contains ...string) *llm.Error {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *llm.Error", err, err)
	}
	if e.Status != status {
		t.Errorf("status = %d, want %d (%v)", e.Status, status, e)
	}
	for _, c := range contains {
		if !strings.Contains(e.Message, c) {
			t.Errorf("message %q does not mention %q", e.Message, c)
		}
	}
	return e
}

func TestUpstreamErrorMapping(t *testing.T) {
	tests := []struct {
		desc       string
		status     int
		want       int
		retryAfter time.Duration
		mention    string
	}{
		{"rate limited", 429, 429, 7 * time.Second, "rate limited"},
		{"bad request", 400, 400, 0, "rejected the request"},
		{"unauthenticated", 401, 502, 0, "credentials"},
		{"permission denied", 403, 502, 0, "service account"},
		{"not found", 404, 502, 0, "model"},
		{"internal", 500, 502, 0, "retry"},
		{"unavailable", 503, 503, 3 * time.Second, "unavailable"},
		{"deadline", 504, 504, 0, "timed out"},
	}
	f := startFake(t, vertexsim.Options{})
	p := f.provider(t, nil)
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f.engine.SetFaults(&sim.Faults{FailEvery: 1, ErrorStatus: tt.status, RetryAfter: tt.retryAfter})
			t.Cleanup(func() { f.engine.SetFaults(nil) })
			_, err := p.ChatCompletion(t.Context(), userRequest("hi"))
			e := assertError(t, err, tt.want, "gemini-eu", tt.mention)
			if !e.Upstream || e.RetryAfter != tt.retryAfter {
				t.Errorf("upstream %v retryAfter %v, want true and %v", e.Upstream, e.RetryAfter, tt.retryAfter)
			}
			_, err = p.StreamChatCompletion(t.Context(), userRequest("hi"))
			assertError(t, err, tt.want, "gemini-eu")
		})
	}
}

func TestTokenFetchFailureIs502(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	impostor, err := vertexsim.NewServiceAccount("sim-project", f.url+"/token")
	if err != nil {
		t.Fatal(err)
	}
	p := f.provider(t, func(o *Options) { o.CredentialsJSON = string(impostor.KeyJSON) })
	_, err = p.ChatCompletion(t.Context(), userRequest("hi"))
	e := assertError(t, err, http.StatusBadGateway, "access token", "gemini-eu")
	if !e.Upstream || f.engine.Recorder().Count() != 0 {
		t.Errorf("upstream %v, model calls %d; want true and 0", e.Upstream, f.engine.Recorder().Count())
	}
}

func TestTokensAreReused(t *testing.T) {
	tests := []struct {
		desc     string
		lifetime time.Duration
		requests int
		fetches  int64
	}{
		{"hour-long tokens are fetched once", time.Hour, 5, 1},
		// oauth2 refreshes ten seconds before expiry: a 5s token is always due.
		{"tokens near expiry are refreshed early", 5 * time.Second, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := startFake(t, vertexsim.Options{TokenLifetime: tt.lifetime})
			p := f.provider(t, nil)
			for range tt.requests {
				if _, err := p.ChatCompletion(t.Context(), userRequest("hi")); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.tokenFetches.Load(); got != tt.fetches {
				t.Errorf("%d requests caused %d token fetches, want %d", tt.requests, got, tt.fetches)
			}
		})
	}
}

func TestStreamCutShortIsAnError(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	f.engine.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "a b c d e"}}}})
	f.engine.SetFaults(&sim.Faults{TruncateAfter: 2})
	s, err := f.provider(t, nil).StreamChatCompletion(t.Context(), userRequest("hi"))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := drain(s)
	assertError(t, err, http.StatusBadGateway, "ended before completion", "gemini-eu")
	if len(chunks) != 3 {
		t.Errorf("got %d chunks before the error, want role + 2 deltas", len(chunks))
	}
}

func TestStreamCancelMidway(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	f.engine.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "a b c d e f g h"}}}})
	f.engine.SetFaults(&sim.Faults{ChunkDelay: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := f.provider(t, nil).StreamChatCompletion(ctx, userRequest("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	var nextErr error
	for nextErr == nil {
		_, nextErr = s.Next()
	}
	if !errors.Is(nextErr, context.Canceled) {
		t.Errorf("Next after cancel = %v, want context.Canceled", nextErr)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	_ = s.Close() // twice is fine
}

func TestEmbeddings(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	p := f.provider(t, nil).(provider.Embedder)
	dims := 8
	resp, err := p.Embeddings(t.Context(), &llm.EmbeddingRequest{Input: llm.TextInput("hello world", "bye"), Dimensions: &dims, EncodingFormat: "base64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 2 || len(resp.Data[1].Embedding.Floats) != 8 || !resp.Data[0].Embedding.Base64 || resp.Usage.PromptTokens != 3 {
		t.Errorf("response = %+v, want two 8-dim base64 vectors and 3 tokens", resp)
	}
	body := f.lastBody(t)
	if body["parameters"].(map[string]any)["outputDimensionality"] != float64(8) || len(body["instances"].([]any)) != 2 {
		t.Errorf("predict body = %v", body)
	}
	_, err = p.Embeddings(t.Context(), &llm.EmbeddingRequest{Input: llm.EmbeddingInput{Tokens: [][]int{{1, 2}}}})
	assertError(t, err, http.StatusBadRequest, "text only")
}

func TestRequestRejectedBeforeSending(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	req := userRequest("hi")
	req.Extra = map[string]json.RawMessage{"service_tier": json.RawMessage(`"flex"`)}
	_, err := f.provider(t, nil).ChatCompletion(t.Context(), req)
	e := assertError(t, err, http.StatusBadRequest, "service_tier", "gemini-eu")
	if e.Param != "service_tier" || f.engine.Recorder().Count() != 0 {
		t.Errorf("param %q, upstream calls %d", e.Param, f.engine.Recorder().Count())
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		desc string
		o    Options
		want string
	}{
		{"valid", Options{Project: "p", Location: "global"}, ""},
		{"region alias", Options{Project: "p", Region: "europe-west4"}, ""},
		{"no project", Options{Location: "us-central1"}, "project is required"},
		{"no location", Options{Project: "p"}, "location is required"},
		{"disagreeing region", Options{Project: "p", Location: "a", Region: "b"}, "disagree"},
		{"both credentials", Options{Project: "p", Location: "l", CredentialsFile: "f", CredentialsJSON: "{}"}, "not both"},
		{"bad endpoint", Options{Project: "p", Location: "l", Endpoint: "ftp://x"}, "endpoint"},
		{"bad publisher", Options{Project: "p", Location: "l", Publisher: "meta"}, "publisher"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := tt.o.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Location: "global"}, "https://aiplatform.googleapis.com"},
		{Options{Region: "europe-west4"}, "https://europe-west4-aiplatform.googleapis.com"},
		{Options{Location: "us-central1", Endpoint: "http://127.0.0.1:9/x/"}, "http://127.0.0.1:9/x"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.o.baseURL(); got != tt.want {
				t.Errorf("baseURL() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	f, ok := provider.Lookup(Name)
	if !ok {
		t.Fatal("vertex is not registered")
	}
	if _, ok := f.NewOptions().(*Options); !ok {
		t.Errorf("NewOptions returns %T", f.NewOptions())
	}
}
