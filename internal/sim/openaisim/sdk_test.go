package openaisim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/openaisim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "sk-test-0123456789"

// fake starts the fake and an SDK client pointed at it.
func fake(t *testing.T, opts openaisim.Options) (*sim.Engine, *httptest.Server, openai.Client) {
	t.Helper()
	eng := sim.NewEngine("openai")
	srv := httptest.NewServer(openaisim.New(eng, opts))
	t.Cleanup(srv.Close)
	client := openai.NewClient(
		option.WithBaseURL(srv.URL+"/v1/"),
		option.WithAPIKey(testKey),
		option.WithHTTPClient(srv.Client()),
		option.WithMaxRetries(0),
	)
	return eng, srv, client
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:       "get_weather",
	Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
})

func weatherScript() *sim.Script {
	return &sim.Script{Rules: []sim.Rule{{
		Contains: "weather",
		Reply:    sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris","unit":"celsius"}`}}},
	}}}
}

func TestSDK_ChatCompletion(t *testing.T) {
	eng, _, client := fake(t, openaisim.Options{})
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Contains: "hello", Reply: sim.Reply{Text: "Hi there, friend.", CachedTokens: 2}}}})
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("hello")},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got := resp.Choices[0].Message.Content; got != "Hi there, friend." {
		t.Errorf("content = %q; want %q", got, "Hi there, friend.")
	}
	if resp.Choices[0].FinishReason != "stop" || resp.Model != "gpt-4o" || resp.Object != "chat.completion" {
		t.Errorf("finish/model/object = %q/%q/%q", resp.Choices[0].FinishReason, resp.Model, resp.Object)
	}
	u := resp.Usage
	if u.PromptTokens == 0 || u.CompletionTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens || u.PromptTokensDetails.CachedTokens != 2 {
		t.Errorf("usage = %+v", u)
	}
}

func TestSDK_StreamAccumulates(t *testing.T) {
	tests := []struct {
		name         string
		includeUsage bool
	}{
		{"with usage", true},
		{"without usage", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, _, client := fake(t, openaisim.Options{})
			eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three four five", Reasoning: "thinking hard"}}}})
			params := openai.ChatCompletionNewParams{
				Model:    "gpt-4o",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("count")},
			}
			if tt.includeUsage {
				params.StreamOptions.IncludeUsage = openai.Bool(true)
			}
			stream := client.Chat.Completions.NewStreaming(context.Background(), params)
			defer stream.Close()
			var acc openai.ChatCompletionAccumulator
			chunks, ids := 0, map[string]bool{}
			for stream.Next() {
				c := stream.Current()
				acc.AddChunk(c)
				chunks++
				ids[c.ID] = true
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if got := acc.Choices[0].Message.Content; got != "one two three four five" {
				t.Errorf("accumulated content = %q", got)
			}
			if acc.Choices[0].FinishReason != "stop" {
				t.Errorf("finish = %q; want stop", acc.Choices[0].FinishReason)
			}
			if len(ids) != 1 || chunks < 5 {
				t.Errorf("chunks = %d with ids %v; want several sharing one id", chunks, ids)
			}
			if gotUsage := acc.Usage.TotalTokens > 0; gotUsage != tt.includeUsage {
				t.Errorf("usage present = %v; want %v (usage %+v)", gotUsage, tt.includeUsage, acc.Usage)
			}
		})
	}
}

func TestSDK_StreamToolCall(t *testing.T) {
	eng, _, client := fake(t, openaisim.Options{})
	eng.SetScript(weatherScript())
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What's the weather in Paris?")},
		Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
	})
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	var finished []openai.FinishedChatCompletionToolCall
	argFragments := 0
	for stream.Next() {
		c := stream.Current()
		acc.AddChunk(c)
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				if tc.ID == "" && tc.Function.Arguments != "" {
					argFragments++
				}
			}
		}
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if argFragments < 2 {
		t.Errorf("arguments came in %d fragments; want several, as OpenAI streams them", argFragments)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 1 || calls[0].ID != "call_1" || calls[0].Function.Name != "get_weather" || calls[0].Function.Arguments != `{"city":"Paris","unit":"celsius"}` {
		t.Fatalf("accumulated tool calls = %+v", calls)
	}
	if len(finished) != 1 || finished[0].Arguments != `{"city":"Paris","unit":"celsius"}` {
		t.Errorf("JustFinishedToolCall = %+v", finished)
	}
	if acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("finish = %q; want tool_calls", acc.Choices[0].FinishReason)
	}
}

func TestSDK_ToolCallRoundTrip(t *testing.T) {
	eng, _, client := fake(t, openaisim.Options{})
	eng.SetScript(weatherScript())
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris?")},
		Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
	}
	first, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("first turn: %v", err)
	}
	call := first.Choices[0].Message.ToolCalls[0]
	params.Messages = append(params.Messages, first.Choices[0].Message.ToParam(), openai.ToolMessage(`{"tempC":21}`, call.ID))
	second, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("second turn: %v", err)
	}
	if got, want := second.Choices[0].Message.Content, `The tool returned: {"tempC":21}`; got != want {
		t.Errorf("answer after tool result = %q; want %q", got, want)
	}
}

func TestSDK_Embeddings(t *testing.T) {
	tests := []struct {
		name   string
		format openai.EmbeddingNewParamsEncodingFormat
	}{
		{"float", openai.EmbeddingNewParamsEncodingFormatFloat},
		{"base64", openai.EmbeddingNewParamsEncodingFormatBase64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, client := fake(t, openaisim.Options{})
			resp, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
				Model:          "text-embedding-3-small",
				Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha", "beta"}},
				Dimensions:     openai.Int(8),
				EncodingFormat: tt.format,
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if len(resp.Data) != 2 {
				t.Fatalf("got %d embeddings; want 2", len(resp.Data))
			}
			want := openaisim.Vector("beta", 8)
			got := resp.Data[1].Embedding
			if len(got) != 8 {
				t.Fatalf("dimensions = %d; want 8", len(got))
			}
			for i := range want {
				if float32(got[i]) != want[i] {
					t.Fatalf("embedding[1][%d] = %v; want %v", i, got[i], want[i])
				}
			}
			if resp.Usage.PromptTokens != 2 {
				t.Errorf("usage = %+v; want 2 prompt tokens", resp.Usage)
			}
		})
	}
}

func TestSDK_Models(t *testing.T) {
	_, _, client := fake(t, openaisim.Options{Models: []string{"gpt-4o", "text-embedding-3-small"}})
	page, err := client.Models.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(page.Data) != 2 || page.Data[0].ID != "gpt-4o" {
		t.Errorf("models = %+v", page.Data)
	}
	m, err := client.Models.Get(context.Background(), "text-embedding-3-small")
	if err != nil || m.ID != "text-embedding-3-small" {
		t.Errorf("Get = %+v, %v", m, err)
	}
	_, err = client.Models.Get(context.Background(), "gpt-9")
	if apiErr, ok := errors.AsType[*openai.Error](err); !ok || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Errorf("Get unknown = %v; want 404 model_not_found", err)
	}
}

func TestSDK_Errors(t *testing.T) {
	tests := []struct {
		name       string
		opts       openaisim.Options
		faults     *sim.Faults
		key        string
		model      string
		wantStatus int
		wantCode   string
		wantRetry  string
	}{
		{name: "wrong key", opts: openaisim.Options{APIKeys: []string{"sk-right-key-000"}}, key: "sk-wrong-key-000", model: "gpt-4o", wantStatus: 401, wantCode: "invalid_api_key"},
		{name: "unknown model", opts: openaisim.Options{Models: []string{"gpt-4o"}}, model: "gpt-9", wantStatus: 404, wantCode: "model_not_found"},
		{name: "rate limited", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 429, RetryAfter: 3 * time.Second}, model: "gpt-4o", wantStatus: 429, wantCode: "rate_limit_exceeded", wantRetry: "3"},
		{name: "overloaded", faults: &sim.Faults{Down: true}, model: "gpt-4o", wantStatus: 503, wantCode: "server_overloaded"},
		{name: "server error", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 500}, model: "gpt-4o", wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, _, client := fake(t, tt.opts)
			eng.SetFaults(tt.faults)
			var opts []option.RequestOption
			if tt.key != "" {
				opts = append(opts, option.WithAPIKey(tt.key))
			}
			var httpResp *http.Response
			opts = append(opts, option.WithResponseInto(&httpResp))
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:    tt.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			}, opts...)
			apiErr, ok := errors.AsType[*openai.Error](err)
			if !ok {
				t.Fatalf("err = %v; want *openai.Error", err)
			}
			if apiErr.StatusCode != tt.wantStatus || apiErr.Code != tt.wantCode || apiErr.Message == "" {
				t.Errorf("error = %d %q %q; want %d %q with a message", apiErr.StatusCode, apiErr.Code, apiErr.Message, tt.wantStatus, tt.wantCode)
			}
			if got := apiErr.Response.Header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("retry-after = %q; want %q", got, tt.wantRetry)
			}
			if apiErr.Response.Header.Get("X-Request-Id") == "" {
				t.Error("error answer has no x-request-id")
			}
		})
	}
}

func TestSDK_MalformedJSONIs400(t *testing.T) {
	_, srv, _ := fake(t, openaisim.Options{})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", stringsReader(`{"model":`))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || body.Error.Type != "invalid_request_error" || body.Error.Message == "" {
		t.Errorf("malformed JSON answered %d %+v; want 400 invalid_request_error", resp.StatusCode, body)
	}
}
