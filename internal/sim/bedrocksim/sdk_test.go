package bedrocksim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/bedrocksim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
	testModel  = "anthropic.claude-3-haiku-20240307-v1:0"
)

func fake(t *testing.T) (*sim.Engine, *httptest.Server) {
	t.Helper()
	eng := sim.NewEngine("bedrock")
	srv := httptest.NewServer(bedrocksim.New(eng, bedrocksim.Options{
		AccessKeyID: testAKID, SecretAccessKey: testSecret, Region: testRegion, APIKeys: []string{"bedrock-api-key-1"},
	}))
	t.Cleanup(srv.Close)
	return eng, srv
}

func sdkClient(srv *httptest.Server, akid, secret string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(akid, secret, ""),
		HTTPClient:       &http.Client{Transport: inMemoryBodies{srv.Client().Transport}},
		RetryMaxAttempts: 1,
	})
}

// inMemoryBodies hands the transport a copy of each request body held in
// memory. smithy-go closes the SDK's request body as soon as the response
// headers arrive, but net/http may still be reading that body: after writing
// Content-Length bytes (sent straight to the socket) it reads once more to
// check for extra bytes. When the server answers before that read, the read
// fails, the transport closes the connection and the event stream being
// decoded dies with "use of closed network connection". A simulator on
// loopback under CI load answers that fast often enough to fail a run in
// three. net/http writes an in-memory body with the headers in one flush and
// its extra read cannot fail, so the race cannot happen.
type inMemoryBodies struct{ next http.RoundTripper }

func (t inMemoryBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		raw, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
	}
	return t.next.RoundTrip(r)
}

func userText(s string) types.Message {
	return types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: s}}}
}

func weatherTools() *types.ToolConfiguration {
	return &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
		Name:        aws.String("get_weather"),
		InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}})},
	}}}}
}

func TestSDK_Converse(t *testing.T) {
	eng, srv := fake(t)
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Contains: "hello", Reply: sim.Reply{Text: "Hi there, friend.", PromptTokens: 10, CachedTokens: 4}}}})
	out, err := sdkClient(srv, testAKID, testSecret).Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId:  aws.String(testModel),
		System:   []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "Be brief."}},
		Messages: []types.Message{userText("hello")},
	})
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	msg := out.Output.(*types.ConverseOutputMemberMessage).Value
	if got := msg.Content[0].(*types.ContentBlockMemberText).Value; got != "Hi there, friend." {
		t.Errorf("text = %q", got)
	}
	if out.StopReason != types.StopReasonEndTurn {
		t.Errorf("stopReason = %q", out.StopReason)
	}
	if *out.Usage.InputTokens != 6 || *out.Usage.CacheReadInputTokens != 4 || *out.Usage.TotalTokens != 10+*out.Usage.OutputTokens {
		t.Errorf("usage = in %d cacheRead %d total %d", *out.Usage.InputTokens, *out.Usage.CacheReadInputTokens, *out.Usage.TotalTokens)
	}
	reqs := eng.Recorder().Requests()
	if len(reqs) != 1 || reqs[0].Path != "/model/"+testModel+"/converse" {
		t.Fatalf("recorded %+v", reqs)
	}
}

func TestSDK_ConverseStream(t *testing.T) {
	eng, srv := fake(t)
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Reasoning: "Think first.", Text: "It is sunny today."}}}})
	out, err := sdkClient(srv, testAKID, testSecret).ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId:  aws.String("us." + testModel),
		Messages: []types.Message{userText("weather?")},
	})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var text, reasoning, sig, order strings.Builder
	var usage *types.TokenUsage
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberMessageStart:
			order.WriteString("start ")
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			switch d := e.Value.Delta.(type) {
			case *types.ContentBlockDeltaMemberText:
				text.WriteString(d.Value)
			case *types.ContentBlockDeltaMemberReasoningContent:
				switch r := d.Value.(type) {
				case *types.ReasoningContentBlockDeltaMemberText:
					reasoning.WriteString(r.Value)
				case *types.ReasoningContentBlockDeltaMemberSignature:
					sig.WriteString(r.Value)
				}
			}
		case *types.ConverseStreamOutputMemberMessageStop:
			order.WriteString("stop:" + string(e.Value.StopReason) + " ")
		case *types.ConverseStreamOutputMemberMetadata:
			order.WriteString("metadata")
			usage = e.Value.Usage
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if text.String() != "It is sunny today." || reasoning.String() != "Think first." || sig.String() == "" {
		t.Errorf("text %q reasoning %q signature %q", text.String(), reasoning.String(), sig.String())
	}
	if order.String() != "start stop:end_turn metadata" {
		t.Errorf("event order = %q", order.String())
	}
	if usage == nil || *usage.OutputTokens == 0 {
		t.Errorf("usage = %+v", usage)
	}
}

func TestSDK_ToolUse(t *testing.T) {
	eng, srv := fake(t)
	eng.SetScript(&sim.Script{Rules: []sim.Rule{
		{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{AfterToolResult: true, Reply: sim.Reply{Text: "It is 21C in Paris."}},
	}})
	client := sdkClient(srv, testAKID, testSecret)
	first, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(testModel), Messages: []types.Message{userText("weather in Paris?")}, ToolConfig: weatherTools(),
	})
	if err != nil {
		t.Fatalf("Converse: %v", err)
	}
	if first.StopReason != types.StopReasonToolUse {
		t.Fatalf("stopReason = %q", first.StopReason)
	}
	msg := first.Output.(*types.ConverseOutputMemberMessage).Value
	use := msg.Content[0].(*types.ContentBlockMemberToolUse).Value
	var input map[string]string
	if err := use.Input.UnmarshalSmithyDocument(&input); err != nil || input["city"] != "Paris" || *use.Name != "get_weather" {
		t.Fatalf("toolUse = %s %v (%v)", *use.Name, input, err)
	}
	second, err := client.Converse(context.Background(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(testModel), ToolConfig: weatherTools(),
		Messages: []types.Message{userText("weather in Paris?"), msg, {Role: types.ConversationRoleUser, Content: []types.ContentBlock{
			&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{ToolUseId: use.ToolUseId, Content: []types.ToolResultContentBlock{
				&types.ToolResultContentBlockMemberJson{Value: document.NewLazyDocument(map[string]any{"tempC": 21})},
			}}},
		}}},
	})
	if err != nil {
		t.Fatalf("Converse with tool result: %v", err)
	}
	if got := second.Output.(*types.ConverseOutputMemberMessage).Value.Content[0].(*types.ContentBlockMemberText).Value; got != "It is 21C in Paris." {
		t.Errorf("answer = %q", got)
	}

	// A streamed tool use reaches the SDK as start, input fragments, stop.
	out, err := client.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: aws.String(testModel), Messages: []types.Message{userText("weather in Paris?")}, ToolConfig: weatherTools(),
	})
	if err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	stream := out.GetStream()
	defer stream.Close()
	var args strings.Builder
	name := ""
	for ev := range stream.Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockStart:
			name = *e.Value.Start.(*types.ContentBlockStartMemberToolUse).Value.Name
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberToolUse); ok {
				args.WriteString(*d.Value.Input)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if name != "get_weather" || args.String() != `{"city":"Paris"}` {
		t.Errorf("streamed tool use %q %q", name, args.String())
	}
}

func TestSDK_Auth(t *testing.T) {
	_, srv := fake(t)
	tests := []struct {
		desc, akid, secret, code string
	}{
		{"wrong secret", testAKID, "not-the-secret", "InvalidSignatureException"},
		{"unknown access key", "AKIDUNKNOWN", testSecret, "UnrecognizedClientException"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := sdkClient(srv, tc.akid, tc.secret).Converse(context.Background(), &bedrockruntime.ConverseInput{
				ModelId: aws.String(testModel), Messages: []types.Message{userText("hello")},
			})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an API error", err)
			}
			if apiErr.ErrorCode() != tc.code {
				t.Errorf("code = %q, want %q (%v)", apiErr.ErrorCode(), tc.code, err)
			}
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusForbidden {
				t.Errorf("status = %d, want 403", re.HTTPStatusCode())
			}
			if tc.code == "InvalidSignatureException" && !strings.Contains(apiErr.ErrorMessage(), "does not match the signature you provided") {
				t.Errorf("message = %q", apiErr.ErrorMessage())
			}
		})
	}
}

func TestAuth_Raw(t *testing.T) {
	_, srv := fake(t)
	tests := []struct {
		desc, auth string
		status     int
		errType    string
	}{
		{"missing", "", http.StatusForbidden, "MissingAuthenticationTokenException"},
		{"api key", "Bearer bedrock-api-key-1", http.StatusOK, ""},
		{"wrong api key", "Bearer nope", http.StatusForbidden, "UnrecognizedClientException"},
		{"garbled sigv4", "AWS4-HMAC-SHA256 Credential=x", http.StatusBadRequest, "IncompleteSignatureException"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			body := `{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}`
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tc.status, raw)
			}
			if tc.errType == "" {
				return
			}
			if got := resp.Header.Get("X-Amzn-Errortype"); !strings.HasPrefix(got, tc.errType+":") {
				t.Errorf("x-amzn-ErrorType = %q, want %s:...", got, tc.errType)
			}
			var eb map[string]string
			if json.Unmarshal(raw, &eb) != nil || eb["message"] == "" {
				t.Errorf("body = %s, want {\"message\":...}", raw)
			}
		})
	}
}

func TestSDK_Faults(t *testing.T) {
	eng, srv := fake(t)
	tests := []struct {
		status int
		code   string
	}{
		{429, "ThrottlingException"},
		{500, "InternalServerException"},
		{503, "ServiceUnavailableException"},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			eng.SetFaults(&sim.Faults{FailEvery: 1, ErrorStatus: tc.status})
			defer eng.SetFaults(nil)
			_, err := sdkClient(srv, testAKID, testSecret).Converse(context.Background(), &bedrockruntime.ConverseInput{
				ModelId: aws.String(testModel), Messages: []types.Message{userText("hello")},
			})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}

func TestSDK_InvokeEmbeddings(t *testing.T) {
	_, srv := fake(t)
	client := sdkClient(srv, testAKID, testSecret)
	out, err := client.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String("amazon.titan-embed-text-v2:0"), ContentType: aws.String("application/json"),
		Body: []byte(`{"inputText":"hello world","dimensions":256,"normalize":true}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	var titan struct {
		Embedding           []float32 `json:"embedding"`
		InputTextTokenCount int       `json:"inputTextTokenCount"`
	}
	if err := json.NewDecoder(bytes.NewReader(out.Body)).Decode(&titan); err != nil || len(titan.Embedding) != 256 || titan.InputTextTokenCount != 2 {
		t.Errorf("titan = %d dims, %d tokens (%v)", len(titan.Embedding), titan.InputTextTokenCount, err)
	}
	out, err = client.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
		ModelId: aws.String("cohere.embed-english-v3"), ContentType: aws.String("application/json"),
		Body: []byte(`{"texts":["a","b"],"input_type":"search_document"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	var cohere struct {
		Embeddings [][]float32 `json:"embeddings"`
	}
	if err := json.Unmarshal(out.Body, &cohere); err != nil || len(cohere.Embeddings) != 2 {
		t.Errorf("cohere = %d embeddings (%v)", len(cohere.Embeddings), err)
	}
}
