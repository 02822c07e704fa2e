package app_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/switchyard/switchyard/internal/sim"
)

var update = flag.Bool("update", false, "rewrite testdata/parity golden files from the reference backend (parity-openai)")

// parityConfig exposes one deployment of every backend as its own alias,
// so a client can pin each cloud and compare what comes back.
const parityConfig = `
server:
  upstream_timeout: 5s
store:
  dsn: sqlite://${DATA_DIR}/switchyard.db
keys:
  - name: test
    secret: ` + testKey + `
deployments:
  - name: openai-us
    provider: openai
    model: gpt-4o-2024-08-06
    model_version: "2024-08-06"
    region: us-east-1
    capabilities: {tools: true}
    options:
      base_url: ${SIM_OPENAI_URL}/v1
      api_key: ${SIM_OPENAI_KEY}
  - name: azure-weu
    provider: azure
    model: gpt-4o-weu
    model_version: "2024-08-06"
    region: westeurope
    capabilities: {tools: true}
    options:
      endpoint: ${SIM_AZURE_URL}
      api_version: 2024-10-21
      api_key: ${SIM_AZURE_KEY}
  - name: anthropic-us
    provider: anthropic
    model: claude-sonnet-4-5-20250929
    model_version: "20250929"
    region: us-east-1
    capabilities: {tools: true}
    options:
      base_url: ${SIM_ANTHROPIC_URL}
      api_key: ${SIM_ANTHROPIC_KEY}
  - name: bedrock-euc1
    provider: bedrock
    model: eu.anthropic.claude-sonnet-4-5-20250929-v1:0
    model_version: "20250929-v1"
    region: eu-central-1
    capabilities: {tools: true}
    options:
      region: eu-central-1
      endpoint: ${SIM_BEDROCK_URL}
      access_key_id: ${SIM_AWS_ACCESS_KEY_ID}
      secret_access_key: ${SIM_AWS_SECRET_ACCESS_KEY}
  - name: vertex-gemini-euw4
    provider: vertex
    model: gemini-3-flash-preview
    model_version: "3-flash-preview"
    region: europe-west4
    capabilities: {tools: true}
    options:
      project: ${SIM_VERTEX_PROJECT}
      location: europe-west4
      endpoint: ${SIM_VERTEX_URL}
      credentials_file: ${SIM_VERTEX_CREDENTIALS_FILE}
  - name: vertex-claude-euw1
    provider: vertex
    model: claude-sonnet-4-5@20250929
    model_version: "4.5@20250929"
    region: europe-west1
    capabilities: {tools: true}
    options:
      project: ${SIM_VERTEX_PROJECT}
      location: europe-west1
      publisher: anthropic
      endpoint: ${SIM_VERTEX_URL}
      credentials_file: ${SIM_VERTEX_CREDENTIALS_FILE}
models:
  - alias: parity-openai
    deployments: [openai-us]
  - alias: parity-azure
    deployments: [azure-weu]
  - alias: parity-anthropic
    deployments: [anthropic-us]
  - alias: parity-bedrock
    deployments: [bedrock-euc1]
  - alias: parity-vertex-gemini
    deployments: [vertex-gemini-euw4]
  - alias: parity-vertex-claude
    deployments: [vertex-claude-euw1]
`

// parityBackend is one cloud behind its own alias, with the provenance
// the gateway must report for it.
type parityBackend struct {
	alias    string
	cloud    string // the fleet's fake that serves it
	provider string
	deploy   string
	region   string
	version  string
	// wholeToolCalls marks a cloud whose stream delivers a tool call's
	// arguments in one piece: Gemini's functionCall part carries a complete
	// args object, so there is nothing to fragment.
	wholeToolCalls bool
}

var parityBackends = []parityBackend{
	{alias: "parity-openai", cloud: "openai", provider: "openai", deploy: "openai-us", region: "us-east-1", version: "2024-08-06"},
	{alias: "parity-azure", cloud: "azure", provider: "azure", deploy: "azure-weu", region: "westeurope", version: "2024-08-06"},
	{alias: "parity-anthropic", cloud: "anthropic", provider: "anthropic", deploy: "anthropic-us", region: "us-east-1", version: "20250929"},
	{alias: "parity-bedrock", cloud: "bedrock", provider: "bedrock", deploy: "bedrock-euc1", region: "eu-central-1", version: "20250929-v1"},
	{alias: "parity-vertex-gemini", cloud: "vertex", provider: "vertex", deploy: "vertex-gemini-euw4", region: "europe-west4", version: "3-flash-preview", wholeToolCalls: true},
	{alias: "parity-vertex-claude", cloud: "vertex", provider: "vertex", deploy: "vertex-claude-euw1", region: "europe-west1", version: "4.5@20250929"},
}

const (
	parityQuestion   = "weather in Paris?"
	parityToolResult = `{"temp_c":21,"sky":"sunny"}`
	parityAnswer     = "It is 21°C and sunny in Paris."
)

// parityScript is what every cloud's model answers: a tool call first,
// then, told what the tool said, a text answer.
var parityScript = sim.Script{Rules: []sim.Rule{
	{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
	{AfterToolResult: true, Reply: sim.Reply{Text: parityAnswer}},
}}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Current weather in a city"),
	Parameters: shared.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}},
		"required":   []string{"city"},
	},
})

// conversation is the canonical, comparable form of a two-turn exchange:
// everything a client relies on, nothing that legitimately varies by
// cloud or by call (ids, timestamps, the upstream model name, token counts).
type conversation struct {
	Turns []turn `json:"turns"`
}

type turn struct {
	Role         string     `json:"role"`
	Content      string     `json:"content"`
	ToolCalls    []toolCall `json:"tool_calls,omitempty"`
	FinishReason string     `json:"finish_reason"`
	// Usage is nil when the call reported none.
	Usage *usageShape `json:"usage,omitempty"`
}

type toolCall struct {
	Type string `json:"type"`
	Name string `json:"name"`
	// Arguments is parsed: key order and whitespace carry no meaning.
	Arguments any `json:"arguments"`
}

// usageShape is usage with the prompt count normalized away: each fake
// counts prompt tokens over its own native rendering of the request (tool
// schemas, role markers and the tool result's encoding differ per cloud),
// so that count legitimately differs. Completion tokens do not: every fake
// counts the same scripted reply with sim.CountTokens, so a backend that
// misreads its cloud's output count shows up here.
type usageShape struct {
	PromptTokensPositive bool  `json:"prompt_tokens_positive"`
	CompletionTokens     int64 `json:"completion_tokens"`
	TotalIsSum           bool  `json:"total_is_prompt_plus_completion"`
}

func shapeOf(u openai.CompletionUsage) *usageShape {
	return &usageShape{
		PromptTokensPositive: u.PromptTokens > 0,
		CompletionTokens:     u.CompletionTokens,
		TotalIsSum:           u.TotalTokens == u.PromptTokens+u.CompletionTokens,
	}
}

func canonicalTurn(t *testing.T, msg openai.ChatCompletionMessage, finish string, usage *usageShape) turn {
	t.Helper()
	out := turn{Role: string(msg.Role), Content: msg.Content, FinishReason: finish, Usage: usage}
	for _, tc := range msg.ToolCalls {
		var args any
		if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
			t.Errorf("tool call %s arguments are not JSON: %q", tc.Function.Name, tc.Function.Arguments)
		}
		if tc.ID == "" {
			t.Errorf("tool call %s has no id; the client cannot answer it", tc.Function.Name)
		}
		out.ToolCalls = append(out.ToolCalls, toolCall{Type: string(tc.Type), Name: tc.Function.Name, Arguments: args})
	}
	return out
}

// parityMode is how a conversation is driven through the SDK.
type parityMode struct {
	name         string
	stream       bool
	includeUsage bool
}

var parityModes = []parityMode{
	{name: "plain"},
	{name: "stream", stream: true, includeUsage: true},
	{name: "stream-no-usage", stream: true},
}

const goldenPath = "testdata/parity/conversation.golden.json"

// TestCrossCloudParity drives the same two-turn tool conversation through
// every backend, plain and streamed, with the official OpenAI SDK, and
// holds each to one golden transcript: a client cannot tell the clouds
// apart except by the provenance headers.
func TestCrossCloudParity(t *testing.T) {
	golden := loadGolden(t)
	for _, b := range parityBackends {
		t.Run(b.alias, func(t *testing.T) {
			t.Parallel()
			e := start(t, parityConfig)
			eng := e.fleet.Clouds[b.cloud].Engine
			eng.SetScript(&parityScript)
			for _, m := range parityModes {
				t.Run(m.name, func(t *testing.T) {
					eng.Recorder().Reset()
					got := runParity(t, e, b, m)
					// The tool result reached the cloud in its native shape.
					if !eng.Recorder().Contains("sunny") {
						t.Errorf("the %s fake never saw the tool result", b.cloud)
					}
					want := golden
					if !m.includeUsage && m.stream {
						want = withoutUsage(golden)
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("%s/%s differs from %s\n got: %s\nwant: %s", b.alias, m.name, goldenPath, mustJSON(got), mustJSON(want))
					}
				})
			}
		})
	}
}

// loadGolden returns the golden transcript; with -update it first records
// it from the reference backend, which every other backend then must match.
func loadGolden(t *testing.T) conversation {
	t.Helper()
	if *update {
		e := start(t, parityConfig)
		e.fleet.Clouds["openai"].Engine.SetScript(&parityScript)
		conv := runParity(t, e, parityBackends[0], parityModes[0])
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append([]byte(mustJSON(conv)), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var conv conversation
	if err := json.Unmarshal(raw, &conv); err != nil {
		t.Fatalf("%s: %v", goldenPath, err)
	}
	if len(conv.Turns) != 2 {
		t.Fatalf("%s holds %d turns, want 2", goldenPath, len(conv.Turns))
	}
	return conv
}

func withoutUsage(c conversation) conversation {
	out := conversation{Turns: append([]turn(nil), c.Turns...)}
	for i := range out.Turns {
		out.Turns[i].Usage = nil
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// runParity asks the question, answers the tool call and returns both
// assistant turns in canonical form, checking per-call invariants on the way.
func runParity(t *testing.T, e *env, b parityBackend, m parityMode) conversation {
	t.Helper()
	c := e.client(testKey)
	params := openai.ChatCompletionNewParams{
		Model:    b.alias,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(parityQuestion)},
		Tools:    []openai.ChatCompletionToolUnionParam{weatherTool},
	}
	if m.includeUsage {
		params.StreamOptions.IncludeUsage = openai.Bool(true)
	}
	var conv conversation
	for i := range 2 {
		msg, tr := parityCall(t, c, params, b, m)
		conv.Turns = append(conv.Turns, tr)
		if i == 0 {
			if len(msg.ToolCalls) != 1 {
				t.Fatalf("turn 1: %d tool calls, want 1: %+v", len(msg.ToolCalls), msg)
			}
			params.Messages = append(params.Messages, msg.ToParam(), openai.ToolMessage(parityToolResult, msg.ToolCalls[0].ID))
		}
	}
	return conv
}

// parityCall makes one call and returns the assistant message the SDK
// saw, plus its canonical form.
func parityCall(t *testing.T, c openai.Client, params openai.ChatCompletionNewParams, b parityBackend, m parityMode) (openai.ChatCompletionMessage, turn) {
	t.Helper()
	ctx := context.Background()
	var raw *http.Response
	if !m.stream {
		resp, err := c.Chat.Completions.New(ctx, params, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatalf("%s: %v", b.alias, err)
		}
		checkProvenance(t, raw, b)
		if resp.ID == "" || resp.Created == 0 || resp.Model == "" || resp.Object != "chat.completion" {
			t.Errorf("response envelope id=%q created=%d model=%q object=%q", resp.ID, resp.Created, resp.Model, resp.Object)
		}
		if len(resp.Choices) != 1 {
			t.Fatalf("%d choices, want 1", len(resp.Choices))
		}
		checkUsage(t, "response", resp.Usage)
		ch := resp.Choices[0]
		// A call-only turn has null content, as OpenAI sends it: clients
		// in other languages tell null from "".
		if len(ch.Message.ToolCalls) > 0 && ch.Message.Content == "" && ch.Message.JSON.Content.Raw() != "null" {
			t.Errorf("call-only turn content is %q, want null", ch.Message.JSON.Content.Raw())
		}
		return ch.Message, canonicalTurn(t, ch.Message, ch.FinishReason, shapeOf(resp.Usage))
	}
	s := c.Chat.Completions.NewStreaming(ctx, params, option.WithResponseInto(&raw))
	defer s.Close()
	var acc openai.ChatCompletionAccumulator
	usageChunks, argFragments, chunks := 0, 0, 0
	finishes := map[string]int{}
	ids, models := map[string]bool{}, map[string]bool{}
	for s.Next() {
		ch := s.Current()
		chunks++
		if !acc.AddChunk(ch) {
			t.Fatalf("chunk %d rejected by the accumulator: %s", chunks, ch.RawJSON())
		}
		if ch.Object != "chat.completion.chunk" || ch.Created == 0 {
			t.Errorf("chunk envelope object=%q created=%d", ch.Object, ch.Created)
		}
		ids[ch.ID], models[ch.Model] = true, true
		if ch.JSON.Usage.Valid() && ch.Usage.TotalTokens > 0 {
			usageChunks++
			if len(ch.Choices) != 0 {
				t.Errorf("usage chunk carries choices: %s", ch.RawJSON())
			}
			checkUsage(t, "usage chunk", ch.Usage)
		}
		for _, choice := range ch.Choices {
			if choice.FinishReason != "" {
				finishes[choice.FinishReason]++
			}
			for _, tc := range choice.Delta.ToolCalls {
				if tc.Function.Arguments != "" {
					argFragments++
				}
			}
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("%s stream: %v", b.alias, err)
	}
	// Every chunk of one completion carries the same id and model.
	if len(ids) != 1 || ids[""] || len(models) != 1 || models[""] {
		t.Errorf("chunk ids %v models %v; want one non-empty id and model", ids, models)
	}
	checkProvenance(t, raw, b)
	if ct := raw.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("stream content-type %q", ct)
	}
	wantUsageChunks := 0
	if m.includeUsage {
		wantUsageChunks = 1
	}
	if usageChunks != wantUsageChunks {
		t.Errorf("%d usage chunks, want %d (include_usage=%v)", usageChunks, wantUsageChunks, m.includeUsage)
	}
	if len(finishes) != 1 || len(acc.Choices) != 1 {
		t.Fatalf("finish reasons %v over %d choices; want exactly one finish", finishes, len(acc.Choices))
	}
	for f, n := range finishes {
		if n != 1 {
			t.Errorf("finish_reason %q sent %d times", f, n)
		}
	}
	msg := acc.Choices[0].Message
	if len(msg.ToolCalls) > 0 {
		// Clouds that stream arguments do so in pieces; the client must
		// see them as pieces too, not one buffered blob.
		if b.wholeToolCalls && argFragments != 1 {
			t.Errorf("%d argument fragments, want the whole call in 1", argFragments)
		}
		if !b.wholeToolCalls && argFragments < 2 {
			t.Errorf("tool arguments arrived in %d fragment(s); the stream was buffered", argFragments)
		}
	} else if chunks < 3 {
		t.Errorf("only %d chunks: the text was not streamed", chunks)
	}
	var usage *usageShape
	if m.includeUsage {
		usage = shapeOf(acc.Usage)
	}
	return msg, canonicalTurn(t, msg, acc.Choices[0].FinishReason, usage)
}

func checkUsage(t *testing.T, where string, u openai.CompletionUsage) {
	t.Helper()
	if u.PromptTokens <= 0 || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Errorf("%s usage prompt=%d completion=%d total=%d; want both positive and total their sum",
			where, u.PromptTokens, u.CompletionTokens, u.TotalTokens)
	}
}

// checkProvenance: every answer says which provider, deployment, region
// and model version served it, so an auditor can trace it.
func checkProvenance(t *testing.T, raw *http.Response, b parityBackend) {
	t.Helper()
	if raw == nil {
		t.Fatal("no HTTP response captured")
	}
	for h, want := range map[string]string{
		"X-Switchyard-Provider":      b.provider,
		"X-Switchyard-Deployment":    b.deploy,
		"X-Switchyard-Region":        b.region,
		"X-Switchyard-Model-Version": b.version,
	} {
		if got := raw.Header.Get(h); got != want {
			t.Errorf("%s: %s = %q, want %q", b.alias, h, got, want)
		}
	}
}

// TestGeminiThoughtSignatureRoundTrip: Gemini signs its function calls and
// Gemini 3 rejects a replayed call without its signature. The gateway
// hands the signature out as tool_calls[].thought_signature and takes it
// back from a client that returns the assistant message verbatim. (The
// official Go SDK's ToParam and ChatCompletionAccumulator drop the field;
// for them the tool-call id carries the signature, which TestCrossCloudParity
// proves: its Gemini deployment is a Gemini 3 model, which the fake holds to
// signed calls.)
func TestGeminiThoughtSignatureRoundTrip(t *testing.T) {
	t.Parallel()
	e := start(t, parityConfig)
	eng := e.fleet.Clouds["vertex"].Engine
	eng.SetScript(&parityScript)
	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	user := `{"role":"user","content":"` + parityQuestion + `"}`
	status, _, body := e.do(http.MethodPost, "/v1/chat/completions", testKey,
		`{"model":"parity-vertex-gemini",`+tools+`,"messages":[`+user+`]}`)
	if status != 200 {
		t.Fatalf("turn 1: %d %s", status, body)
	}
	var resp struct {
		Choices []struct {
			Message json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	var msg struct {
		ToolCalls []struct {
			ID               string `json:"id"`
			ThoughtSignature string `json:"thought_signature"`
		} `json:"tool_calls"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || len(resp.Choices) != 1 {
		t.Fatalf("turn 1 body %s", body)
	}
	if err := json.Unmarshal(resp.Choices[0].Message, &msg); err != nil || len(msg.ToolCalls) != 1 || msg.ToolCalls[0].ThoughtSignature == "" {
		t.Fatalf("turn 1 tool call carries no thought_signature: %s", resp.Choices[0].Message)
	}
	tool := `{"role":"tool","tool_call_id":"` + msg.ToolCalls[0].ID + `","content":` + jsonString(parityToolResult) + `}`
	status, _, body = e.do(http.MethodPost, "/v1/chat/completions", testKey,
		`{"model":"parity-vertex-gemini",`+tools+`,"messages":[`+user+`,`+string(resp.Choices[0].Message)+`,`+tool+`]}`)
	if status != 200 || !strings.Contains(body, parityAnswer) {
		t.Fatalf("turn 2: %d %s", status, body)
	}
	reqs := eng.Recorder().Requests()
	want := `"thoughtSignature":"` + msg.ToolCalls[0].ThoughtSignature + `"`
	if last := string(reqs[len(reqs)-1].Body); !strings.Contains(last, want) {
		t.Errorf("Gemini did not get the signature back (%s):\n%s", want, last)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
