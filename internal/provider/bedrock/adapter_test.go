package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/provider/bedrock"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/bedrocksim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
	testModel  = "anthropic.claude-3-haiku-20240307-v1:0"
	deployName = "claude-haiku-east"
	testAPIKey = "bedrock-api-key-1"
)

type fixture struct {
	eng *sim.Engine
	srv *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	eng := sim.NewEngine("bedrock")
	srv := httptest.NewServer(bedrocksim.New(eng, bedrocksim.Options{AccessKeyID: testAKID, SecretAccessKey: testSecret, Region: testRegion, APIKeys: []string{testAPIKey}}))
	t.Cleanup(srv.Close)
	return &fixture{eng: eng, srv: srv}
}

func (f *fixture) provider(t *testing.T, model string, opts bedrock.Options) provider.Provider {
	t.Helper()
	if opts.Region == "" {
		opts.Region = testRegion
	}
	opts.Endpoint = f.srv.URL
	p, err := bedrock.New(provider.Config{
		Deployment: provider.Deployment{Name: deployName, Model: model, Region: testRegion},
		Options:    &opts, HTTPClient: f.srv.Client(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func (f *fixture) signed(t *testing.T) provider.Provider {
	return f.provider(t, testModel, bedrock.Options{AccessKeyID: testAKID, SecretAccessKey: testSecret})
}

// lastBody returns the last Converse body the fake received.
func (f *fixture) lastBody(t *testing.T) map[string]any {
	t.Helper()
	reqs := f.eng.Recorder().Requests()
	if len(reqs) == 0 {
		t.Fatal("the fake received no request")
	}
	var m map[string]any
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func chat(msgs ...llm.Message) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "alias", Messages: msgs}
}

func user(s string) llm.Message { return llm.Message{Role: llm.RoleUser, Content: llm.TextContent(s)} }

func collect(t *testing.T, s llm.ChatStream) ([]*llm.ChatChunk, error) {
	t.Helper()
	defer s.Close()
	var out []*llm.ChatChunk
	for {
		c, err := s.Next()
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
}

func TestChat_Plain(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Contains: "hello", Reply: sim.Reply{Text: "Hi there.", PromptTokens: 10, CompletionTokens: 3, CachedTokens: 4}}}})
	req := chat(llm.Message{Role: llm.RoleSystem, Content: llm.TextContent("Be brief.")}, user("hello"))
	temp, maxTok := 0.2, 64
	req.Temperature, req.MaxCompletionTokens, req.Stop = &temp, &maxTok, llm.Stop{"END"}
	resp, err := f.signed(t).ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatalf("ChatCompletion: %v", err)
	}
	ch := resp.Choices[0]
	if ch.Message.Content.String() != "Hi there." || ch.FinishReason != llm.FinishStop || ch.Message.Role != llm.RoleAssistant {
		t.Errorf("choice = %+v", ch)
	}
	u := resp.Usage
	if u.PromptTokens != 10 || u.CompletionTokens != 3 || u.TotalTokens != 13 || u.CachedTokens() != 4 {
		t.Errorf("usage = %+v %+v", u, u.PromptTokensDetails)
	}
	if resp.Model != testModel || resp.Upstream.RequestID == "" || !strings.HasPrefix(resp.ID, "chatcmpl-") {
		t.Errorf("model %q request id %q id %q", resp.Model, resp.Upstream.RequestID, resp.ID)
	}
	body := f.lastBody(t)
	ic := body["inferenceConfig"].(map[string]any)
	if ic["maxTokens"] != 64.0 || ic["temperature"] != 0.2 || body["system"] == nil {
		t.Errorf("body = %v", body)
	}
	if p := f.eng.Recorder().Requests()[0].Path; p != "/model/"+testModel+"/converse" {
		t.Errorf("path = %q", p)
	}
}

func TestChat_ModelIDs(t *testing.T) {
	f := newFixture(t)
	for _, model := range []string{
		"us." + testModel,
		"global.anthropic.claude-sonnet-4-5-20250929-v1:0",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us." + testModel,
	} {
		t.Run(model, func(t *testing.T) {
			p := f.provider(t, model, bedrock.Options{AccessKeyID: testAKID, SecretAccessKey: testSecret})
			if _, err := p.ChatCompletion(context.Background(), chat(user("hi"))); err != nil {
				t.Fatalf("ChatCompletion: %v", err)
			}
			reqs := f.eng.Recorder().Requests()
			if got := reqs[len(reqs)-1].Path; got != "/model/"+model+"/converse" {
				t.Errorf("path = %q", got)
			}
		})
	}
}

func TestChat_APIKey(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, testModel, bedrock.Options{APIKey: testAPIKey})
	if _, err := p.ChatCompletion(context.Background(), chat(user("hi"))); err != nil {
		t.Fatalf("ChatCompletion: %v", err)
	}
	if got := f.eng.Recorder().Requests()[0].Header.Get("Authorization"); got != "Bearer "+testAPIKey {
		t.Errorf("Authorization = %q", got)
	}
}

func TestChat_DefaultCredentialChain(t *testing.T) {
	f := newFixture(t)
	t.Setenv("AWS_ACCESS_KEY_ID", testAKID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	p := f.provider(t, testModel, bedrock.Options{})
	for range 3 {
		if _, err := p.ChatCompletion(context.Background(), chat(user("hi"))); err != nil {
			t.Fatalf("ChatCompletion: %v", err)
		}
	}
}

func TestStream_Text(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "It is sunny in Paris.", PromptTokens: 8, CachedTokens: 2}}}})
	s, err := f.signed(t).StreamChatCompletion(context.Background(), chat(user("weather?")))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := collect(t, s)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("end = %v, want io.EOF", err)
	}
	if s.Upstream().RequestID == "" {
		t.Error("no upstream request id")
	}
	first, last := chunks[0], chunks[len(chunks)-1]
	if first.Choices[0].Delta.Role != llm.RoleAssistant {
		t.Errorf("first chunk = %+v", first.Choices[0].Delta)
	}
	if len(last.Choices) != 0 || last.Usage == nil || last.Usage.PromptTokens != 8 || last.Usage.CachedTokens() != 2 {
		t.Errorf("last chunk = %+v usage %+v", last.Choices, last.Usage)
	}
	var text strings.Builder
	finish := llm.FinishReason("")
	for _, c := range chunks[:len(chunks)-1] {
		if c.ID != first.ID || c.Object != "chat.completion.chunk" {
			t.Errorf("chunk id/object = %q/%q", c.ID, c.Object)
		}
		if d := c.Choices[0].Delta.Content; d != nil {
			text.WriteString(*d)
		}
		if fr := c.Choices[0].FinishReason; fr != "" {
			finish = fr
		}
	}
	if text.String() != "It is sunny in Paris." || finish != llm.FinishStop {
		t.Errorf("text %q finish %q", text.String(), finish)
	}
}

func TestStream_ParallelToolCalls(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{
		{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`},
		{Name: "get_time", Arguments: `{"tz":"Europe/Paris"}`},
	}}}}})
	req := chat(user("weather and time in Paris?"))
	req.Tools = []llm.Tool{
		{Type: "function", Function: llm.FunctionDef{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object"}`)}},
		{Type: "function", Function: llm.FunctionDef{Name: "get_time"}},
	}
	s, err := f.signed(t).StreamChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := collect(t, s)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("end = %v", err)
	}
	type call struct{ id, name, args string }
	var calls []call
	finish := llm.FinishReason("")
	for _, c := range chunks {
		if len(c.Choices) == 0 {
			continue
		}
		finish = max(finish, c.Choices[0].FinishReason)
		for _, tc := range c.Choices[0].Delta.ToolCalls {
			if tc.Index == nil {
				t.Fatal("tool call delta without index")
			}
			i := *tc.Index
			if i == len(calls) {
				if tc.ID == "" || tc.Function.Name == "" {
					t.Fatalf("first fragment of call %d lacks id or name: %+v", i, tc)
				}
				calls = append(calls, call{id: tc.ID, name: tc.Function.Name})
			} else if tc.ID != "" || tc.Function.Name != "" {
				t.Errorf("later fragment of call %d repeats id/name", i)
			}
			calls[i].args += tc.Function.Arguments
		}
	}
	if len(calls) != 2 || calls[0].name != "get_weather" || calls[0].args != `{"city":"Paris","unit":"celsius"}` ||
		calls[1].name != "get_time" || calls[1].args != `{"tz":"Europe/Paris"}` || calls[0].id == calls[1].id {
		t.Errorf("calls = %+v", calls)
	}
	if finish != llm.FinishToolCalls {
		t.Errorf("finish = %q", finish)
	}
	tools := f.lastBody(t)["toolConfig"].(map[string]any)
	if _, ok := tools["toolChoice"].(map[string]any)["auto"]; !ok {
		t.Errorf("toolConfig = %v", tools)
	}
}

func TestChat_ToolResultsTurn(t *testing.T) {
	f := newFixture(t)
	req := chat(
		user("weather and time in Paris?"),
		llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{
			{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_weather", Arguments: `{"city":"Paris"}`}},
			{ID: "call.2/odd", Type: "function", Function: llm.FunctionCall{Name: "get_time", Arguments: ``}},
		}},
		llm.Message{Role: llm.RoleTool, ToolCallID: "call_1", Content: llm.TextContent(`{"tempC":21}`)},
		llm.Message{Role: llm.RoleTool, ToolCallID: "call.2/odd", Content: llm.TextContent("10:00")},
	)
	req.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "get_weather"}}, {Type: "function", Function: llm.FunctionDef{Name: "get_time"}}}
	resp, err := f.signed(t).ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatalf("ChatCompletion: %v", err)
	}
	if got := resp.Choices[0].Message.Content.String(); got != "The tool returned: 10:00" {
		t.Errorf("answer = %q", got)
	}
	msgs := f.lastBody(t)["messages"].([]any)
	if len(msgs) != 3 {
		t.Fatalf("messages = %v", msgs)
	}
	results := msgs[2].(map[string]any)["content"].([]any)
	if len(results) != 2 {
		t.Fatalf("one user turn should hold both results: %v", results)
	}
	r0 := results[0].(map[string]any)["toolResult"].(map[string]any)
	r1 := results[1].(map[string]any)["toolResult"].(map[string]any)
	uses := msgs[1].(map[string]any)["content"].([]any)
	u1 := uses[1].(map[string]any)["toolUse"].(map[string]any)
	if r0["toolUseId"] != "call_1" || r1["toolUseId"] != u1["toolUseId"] || strings.ContainsAny(r1["toolUseId"].(string), "./") {
		t.Errorf("ids: results %v %v, use %v", r0["toolUseId"], r1["toolUseId"], u1["toolUseId"])
	}
	if _, ok := r0["content"].([]any)[0].(map[string]any)["json"]; !ok {
		t.Errorf("JSON tool result should travel as json: %v", r0)
	}
}

func TestChat_ToolCallIDRoundTrip(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}}}})
	req := chat(user("weather?"))
	req.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "get_weather"}}}
	req.ToolChoice = &llm.ToolChoice{Function: "get_weather"}
	resp, err := f.signed(t).ChatCompletion(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if resp.Choices[0].FinishReason != llm.FinishToolCalls || len(m.ToolCalls) != 1 || m.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` || !m.Content.IsNull() {
		t.Errorf("message = %+v finish %q", m, resp.Choices[0].FinishReason)
	}
	choice := f.lastBody(t)["toolConfig"].(map[string]any)["toolChoice"].(map[string]any)
	if choice["tool"].(map[string]any)["name"] != "get_weather" {
		t.Errorf("toolChoice = %v", choice)
	}
}

func TestChat_ImagesAndCachePoints(t *testing.T) {
	f := newFixture(t)
	eph := &llm.CacheControl{Type: "ephemeral"}
	req := chat(
		llm.Message{Role: llm.RoleSystem, Content: llm.PartsContent(llm.Part{Type: llm.PartText, Text: "Long system prompt.", CacheControl: eph})},
		llm.Message{Role: llm.RoleUser, Content: llm.PartsContent(
			llm.Part{Type: llm.PartText, Text: "What is this?"},
			llm.Part{Type: llm.PartImage, ImageURL: &llm.ImageURL{URL: "data:image/png;base64,iVBORw0KGgo="}, CacheControl: eph},
		)},
	)
	req.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "zoom"}, CacheControl: eph}}
	if _, err := f.signed(t).ChatCompletion(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	body := f.lastBody(t)
	raw, _ := json.Marshal(body)
	for _, want := range []string{
		`"system":[{"text":"Long system prompt."},{"cachePoint":{"type":"default"}}]`,
		`{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}},{"cachePoint":{"type":"default"}}`,
		`{"cachePoint":{"type":"default"}}]`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("body lacks %s:\n%s", want, raw)
		}
	}
}

func TestChat_Reasoning(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Reasoning: "Paris is in France.", Text: "Sunny."}}}})
	p := f.signed(t)
	resp, err := p.ChatCompletion(context.Background(), chat(user("weather?")))
	if err != nil {
		t.Fatal(err)
	}
	m := resp.Choices[0].Message
	if m.ReasoningContent != "Paris is in France." || len(m.ThinkingBlocks) != 1 || m.ThinkingBlocks[0].Signature == "" || m.ThinkingBlocks[0].Thinking != "Paris is in France." {
		t.Fatalf("message = %+v", m)
	}
	s, err := p.StreamChatCompletion(context.Background(), chat(user("weather?")))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := collect(t, s)
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	var reasoning strings.Builder
	var blocks []llm.ThinkingBlock
	for _, c := range chunks {
		if len(c.Choices) > 0 {
			reasoning.WriteString(c.Choices[0].Delta.ReasoningContent)
			blocks = append(blocks, c.Choices[0].Delta.ThinkingBlocks...)
		}
	}
	if reasoning.String() != "Paris is in France." || len(blocks) != 1 || blocks[0] != m.ThinkingBlocks[0] {
		t.Errorf("streamed reasoning %q blocks %+v", reasoning.String(), blocks)
	}
	// The signed block is carried into the next turn, before the text.
	next := chat(user("weather?"), m, user("and tomorrow?"))
	if _, err := p.ChatCompletion(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(f.lastBody(t)["messages"])
	if !strings.Contains(string(raw), `{"content":[{"reasoningContent":{"reasoningText":{"signature":"`+m.ThinkingBlocks[0].Signature+`","text":"Paris is in France."}}},{"text":"Sunny."}],"role":"assistant"}`) {
		t.Errorf("history = %s", raw)
	}
}

func TestChat_Rejections(t *testing.T) {
	f := newFixture(t)
	p := f.signed(t)
	two, hot := 2, 1.5
	tests := []struct {
		desc  string
		req   *llm.ChatRequest
		param string
		says  string
	}{
		{"remote image", chat(llm.Message{Role: llm.RoleUser, Content: llm.PartsContent(llm.Part{Type: llm.PartImage, ImageURL: &llm.ImageURL{URL: "https://example.com/cat.png"}})}),
			"messages[0].content[0].image_url.url", "data: URLs"},
		{"temperature", func() *llm.ChatRequest { r := chat(user("hi")); r.Temperature = &hot; return r }(), "temperature", "0 to 1"},
		{"n", func() *llm.ChatRequest { r := chat(user("hi")); r.N = &two; return r }(), "n", "n=1"},
		{"unknown field", func() *llm.ChatRequest {
			r := chat(user("hi"))
			r.Extra = map[string]json.RawMessage{"logit_bias": json.RawMessage(`{}`)}
			return r
		}(), "logit_bias", "remove it"},
		{"bad arguments", chat(user("hi"), llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Function: llm.FunctionCall{Name: "f", Arguments: "{oops"}}}}),
			"messages[1].tool_calls[0].function.arguments", "JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			before := f.eng.Recorder().Count()
			_, err := p.ChatCompletion(context.Background(), tc.req)
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *llm.Error", err)
			}
			if e.Status != http.StatusBadRequest || e.Type != llm.TypeInvalidRequest || e.Param != tc.param || e.Upstream {
				t.Errorf("error = %+v", e)
			}
			if !strings.Contains(e.Message, deployName) || !strings.Contains(e.Message, tc.says) {
				t.Errorf("message %q should name the deployment and say %q", e.Message, tc.says)
			}
			if f.eng.Recorder().Count() != before {
				t.Error("a rejected request reached Bedrock")
			}
		})
	}
}

func TestChat_ErrorMapping(t *testing.T) {
	f := newFixture(t)
	p := f.signed(t)
	tests := []struct {
		fault      int
		status     int
		says       string
		retryAfter time.Duration
	}{
		{429, 429, "ThrottlingException", 2 * time.Second},
		{500, 502, "InternalServerException", 0},
		{503, 503, "ServiceUnavailableException", time.Second},
		{400, 400, "ValidationException", 0},
		{403, 502, "credentials", 0},
		{404, 502, "model id", 0},
		{408, 504, "timed out", 0},
		{424, 502, "ModelErrorException", 0},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.fault), func(t *testing.T) {
			f.eng.SetFaults(&sim.Faults{FailEvery: 1, ErrorStatus: tc.fault, RetryAfter: tc.retryAfter})
			defer f.eng.SetFaults(nil)
			for _, stream := range []bool{false, true} {
				var err error
				if stream {
					_, err = p.StreamChatCompletion(context.Background(), chat(user("hi")))
				} else {
					_, err = p.ChatCompletion(context.Background(), chat(user("hi")))
				}
				var e *llm.Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v", err)
				}
				if e.Status != tc.status || !e.Upstream || e.RetryAfter != tc.retryAfter {
					t.Errorf("stream=%v: error = %+v", stream, e)
				}
				if !strings.Contains(e.Message, tc.says) || !strings.Contains(e.Message, deployName) {
					t.Errorf("message %q should say %q and name the deployment", e.Message, tc.says)
				}
			}
		})
	}
}

func TestChat_BadCredentials(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ desc, akid, secret, says string }{
		{"wrong secret", testAKID, "wrong", "InvalidSignatureException"},
		{"unknown key", "AKIDOTHER", testSecret, "UnrecognizedClientException"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			p := f.provider(t, testModel, bedrock.Options{AccessKeyID: tc.akid, SecretAccessKey: tc.secret})
			_, err := p.ChatCompletion(context.Background(), chat(user("hi")))
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadGateway || !e.Upstream {
				t.Fatalf("err = %v, want 502", err)
			}
			if !strings.Contains(e.Message, tc.says) || !strings.Contains(e.Message, deployName) || !strings.Contains(e.Message, "operator") {
				t.Errorf("message = %q", e.Message)
			}
		})
	}
}

func TestStream_Truncated(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three four five six"}}}})
	f.eng.SetFaults(&sim.Faults{TruncateAfter: 3})
	s, err := f.signed(t).StreamChatCompletion(context.Background(), chat(user("count")))
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := collect(t, s)
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadGateway || !strings.Contains(e.Message, "messageStop") {
		t.Fatalf("end = %v after %d chunks, want a 502 naming the missing messageStop", err, len(chunks))
	}
	if len(chunks) == 0 {
		t.Error("the chunks before the cut should arrive")
	}
}

func TestStream_CancelMidStream(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: strings.Repeat("word ", 50)}}}})
	f.eng.SetFaults(&sim.Faults{ChunkDelay: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := f.signed(t).StreamChatCompletion(ctx, chat(user("talk")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	for {
		_, err = s.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestEmbeddings(t *testing.T) {
	f := newFixture(t)
	dims := 256
	tests := []struct {
		model string
		req   *llm.EmbeddingRequest
		dims  int
		calls int64
	}{
		{"amazon.titan-embed-text-v2:0", &llm.EmbeddingRequest{Input: llm.TextInput("hello world", "good bye"), Dimensions: &dims}, 256, 2},
		{"cohere.embed-english-v3", &llm.EmbeddingRequest{Input: llm.TextInput("a b", "c", "d"), EncodingFormat: "base64"}, 1024, 1},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			f.eng.Recorder().Reset()
			p := f.provider(t, tc.model, bedrock.Options{AccessKeyID: testAKID, SecretAccessKey: testSecret})
			resp, err := p.(provider.Embedder).Embeddings(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Data) != tc.req.Input.Len() || len(resp.Data[0].Embedding.Floats) != tc.dims || resp.Data[1].Index != 1 {
				t.Errorf("data = %d vectors of %d", len(resp.Data), len(resp.Data[0].Embedding.Floats))
			}
			if resp.Data[0].Embedding.Base64 != (tc.req.EncodingFormat == "base64") {
				t.Error("encoding_format not honoured")
			}
			if resp.Usage.PromptTokens == 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens {
				t.Errorf("usage = %+v", resp.Usage)
			}
			if got := f.eng.Recorder().Count(); got != tc.calls {
				t.Errorf("InvokeModel calls = %d, want %d", got, tc.calls)
			}
		})
	}
	p := f.signed(t)
	_, err := p.(provider.Embedder).Embeddings(context.Background(), &llm.EmbeddingRequest{Input: llm.TextInput("x")})
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Message, "embedding_format") {
		t.Errorf("chat model embeddings: %v", err)
	}
}
