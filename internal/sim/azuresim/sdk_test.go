package azuresim_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/azuresim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	apiVersion = "2024-10-21"
	apiKey     = "azure-key-0123456789"
	tenant     = "tenant-1"
	clientID   = "app-1"
	secret     = "app-secret"
)

func options() azuresim.Options {
	return azuresim.Options{
		APIKeys: []string{apiKey}, Deployments: []string{"gpt-4o-prod", "embed-prod"},
		TenantID: tenant, ClientID: clientID, ClientSecret: secret, FilterWords: []string{"forbidden"},
	}
}

// fake starts the fake over TLS, as Azure is, and returns an SDK client
// using the SDK's Azure helpers with the given authentication.
func fake(t *testing.T, opts azuresim.Options, auth option.RequestOption) (*sim.Engine, *azuresim.Server, *httptest.Server, openai.Client) {
	t.Helper()
	eng := sim.NewEngine("azure")
	fakeSrv := azuresim.New(eng, opts)
	srv := httptest.NewTLSServer(fakeSrv)
	t.Cleanup(srv.Close)
	client := openai.NewClient(
		azure.WithEndpoint(srv.URL, apiVersion),
		auth,
		option.WithHTTPClient(srv.Client()),
		option.WithMaxRetries(0),
	)
	return eng, fakeSrv, srv, client
}

func userMessages(text string) []openai.ChatCompletionMessageParamUnion {
	return []openai.ChatCompletionMessageParamUnion{openai.UserMessage(text)}
}

func TestSDK_ChatWithAPIKey(t *testing.T) {
	eng, _, _, client := fake(t, options(), azure.WithAPIKey(apiKey))
	var raw *http.Response
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o-prod", Messages: userMessages("hello azure"),
	}, option.WithResponseInto(&raw))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !strings.Contains(resp.Choices[0].Message.Content, "hello azure") || resp.Model != "gpt-4o-prod" {
		t.Errorf("answer = %q from %q", resp.Choices[0].Message.Content, resp.Model)
	}
	if !strings.Contains(resp.RawJSON(), `"prompt_filter_results":[{"prompt_index":0`) || !strings.Contains(resp.Choices[0].RawJSON(), "content_filter_results") {
		t.Error("completion lacks prompt_filter_results or content_filter_results")
	}
	got := eng.Recorder().Requests()[0]
	if got.Path != "/openai/deployments/gpt-4o-prod/chat/completions" || got.Query != "api-version="+apiVersion {
		t.Errorf("SDK called %s?%s", got.Path, got.Query)
	}
	if got.Header.Get("Api-Key") != apiKey || got.Header.Get("Authorization") != "" {
		t.Errorf("credentials sent: api-key %q, authorization %q", got.Header.Get("Api-Key"), got.Header.Get("Authorization"))
	}
}

// entraCredential is an azcore.TokenCredential that buys tokens from the
// fake's token endpoint with client credentials.
type entraCredential struct {
	tokenURL string
	client   *http.Client
}

func (c entraCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": opts.Scopes}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.client.Do(req)
	if err != nil {
		return azcore.AccessToken{}, err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return azcore.AccessToken{}, errors.New("no token")
	}
	return azcore.AccessToken{Token: tok.AccessToken, ExpiresOn: time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)}, nil
}

func TestSDK_StreamWithEntraToken(t *testing.T) {
	eng := sim.NewEngine("azure")
	fakeSrv := azuresim.New(eng, options())
	srv := httptest.NewTLSServer(fakeSrv)
	t.Cleanup(srv.Close)
	cred := entraCredential{tokenURL: srv.URL + "/" + tenant + "/oauth2/v2.0/token", client: srv.Client()}
	client := openai.NewClient(azure.WithEndpoint(srv.URL, apiVersion), azure.WithTokenCredential(cred),
		option.WithHTTPClient(srv.Client()), option.WithMaxRetries(0))
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "streamed from azure"}}}})

	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o-prod", Messages: userMessages("hi"),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	sawFilterChunk := false
	for stream.Next() {
		c := stream.Current()
		if c.ID == "" && len(c.Choices) == 0 {
			sawFilterChunk = true // Azure's leading prompt_filter_results chunk
		}
		acc.AddChunk(c)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if !sawFilterChunk {
		t.Error("stream did not start with the prompt_filter_results chunk")
	}
	if acc.Choices[0].Message.Content != "streamed from azure" || acc.Usage.TotalTokens == 0 {
		t.Errorf("accumulated %q, usage %+v", acc.Choices[0].Message.Content, acc.Usage)
	}
	if fakeSrv.TokensIssued() != 1 {
		t.Errorf("tokens issued = %d; want 1", fakeSrv.TokensIssued())
	}
	if h := eng.Recorder().Requests()[0].Header; !strings.HasPrefix(h.Get("Authorization"), "Bearer azsim.") || h.Get("Api-Key") != "" {
		t.Errorf("credentials sent: %q / %q", h.Get("Authorization"), h.Get("Api-Key"))
	}
}

func TestSDK_StreamToolCall(t *testing.T) {
	eng, _, _, client := fake(t, options(), azure.WithAPIKey(apiKey))
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "lookup", Arguments: `{"query":"switchyard gateway"}`}}}}}})
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o-prod", Messages: userMessages("look it up"),
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{Name: "lookup"})},
	})
	defer stream.Close()
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 1 || calls[0].Function.Name != "lookup" || calls[0].Function.Arguments != `{"query":"switchyard gateway"}` {
		t.Errorf("tool calls = %+v", calls)
	}
}

func TestSDK_Embeddings(t *testing.T) {
	eng, _, _, client := fake(t, options(), azure.WithAPIKey(apiKey))
	resp, err := client.Embeddings.New(context.Background(), openai.EmbeddingNewParams{
		Model: "embed-prod", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}, Dimensions: openai.Int(4),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if len(resp.Data) != 1 || len(resp.Data[0].Embedding) != 4 {
		t.Errorf("embeddings = %+v", resp.Data)
	}
	if p := eng.Recorder().Requests()[0].Path; p != "/openai/deployments/embed-prod/embeddings" {
		t.Errorf("path = %s", p)
	}
}

func TestSDK_Errors(t *testing.T) {
	tests := []struct {
		name       string
		auth       option.RequestOption
		model      string
		prompt     string
		faults     *sim.Faults
		wantStatus int
		wantCode   string
		wantRetry  string
	}{
		{name: "wrong key", auth: azure.WithAPIKey("nope"), model: "gpt-4o-prod", prompt: "hi", wantStatus: 401, wantCode: "401"},
		{name: "unknown deployment", model: "gpt-5-nowhere", prompt: "hi", wantStatus: 404, wantCode: "DeploymentNotFound"},
		{name: "content filter", model: "gpt-4o-prod", prompt: "something forbidden", wantStatus: 400, wantCode: "content_filter"},
		{name: "throttled", model: "gpt-4o-prod", prompt: "hi", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 429, RetryAfter: 6 * time.Second}, wantStatus: 429, wantCode: "429", wantRetry: "6"},
		{name: "outage", model: "gpt-4o-prod", prompt: "hi", faults: &sim.Faults{Down: true}, wantStatus: 503, wantCode: "ServiceUnavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := tt.auth
			if auth == nil {
				auth = azure.WithAPIKey(apiKey)
			}
			eng, _, _, client := fake(t, options(), auth)
			eng.SetFaults(tt.faults)
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: tt.model, Messages: userMessages(tt.prompt)})
			apiErr, ok := errors.AsType[*openai.Error](err)
			if !ok {
				t.Fatalf("err = %v; want *openai.Error", err)
			}
			if apiErr.StatusCode != tt.wantStatus || apiErr.Code != tt.wantCode || apiErr.Message == "" {
				t.Errorf("error = %d %q %q; want %d %q", apiErr.StatusCode, apiErr.Code, apiErr.Message, tt.wantStatus, tt.wantCode)
			}
			if got := apiErr.Response.Header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("retry-after = %q; want %q", got, tt.wantRetry)
			}
		})
	}
}
