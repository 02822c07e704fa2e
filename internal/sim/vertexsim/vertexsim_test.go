package vertexsim

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/genai"

	"github.com/switchyard/switchyard/internal/sim"
)

// The genai SDK pulls in opencensus, whose init starts a worker for good.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

// fake is a running simulator with one registered service account.
type fake struct {
	URL          string
	Account      *ServiceAccount
	Engine       *sim.Engine
	TokenFetches atomic.Int64
}

func startFake(t *testing.T, opts Options) *fake {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{URL: "http://" + l.Addr().String(), Engine: sim.NewEngine("vertex")}
	f.Account, err = NewServiceAccount("sim-project", f.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	opts.Accounts = append(opts.Accounts, f.Account)
	h := New(f.Engine, opts)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			f.TokenFetches.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

// httpClient returns an authenticating client whose token flow uses the
// service-account key, as Google's libraries do.
func (f *fake) httpClient(t *testing.T, keyJSON []byte) *http.Client {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: transport})
	creds, err := google.CredentialsFromJSONWithTypeAndParams(ctx, keyJSON, google.ServiceAccount,
		google.CredentialsParams{Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &oauth2.Transport{Source: creds.TokenSource, Base: transport}}
}

func (f *fake) sdk(t *testing.T) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		Backend:     genai.BackendVertexAI,
		Project:     "sim-project",
		Location:    "us-central1",
		HTTPClient:  f.httpClient(t, f.Account.KeyJSON),
		HTTPOptions: genai.HTTPOptions{BaseURL: f.URL + "/"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSDKGenerateContent(t *testing.T) {
	f := startFake(t, Options{})
	f.Engine.SetScript(&sim.Script{Rules: []sim.Rule{{Contains: "hello", Reply: sim.Reply{Text: "Hi there friend", CachedTokens: 2}}}})
	c := f.sdk(t)
	resp, err := c.Models.GenerateContent(context.Background(), "gemini-2.0-flash", genai.Text("hello"),
		&genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("Be brief.", genai.RoleUser), Temperature: genai.Ptr[float32](0.2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Text(); got != "Hi there friend" {
		t.Errorf("text = %q, want %q", got, "Hi there friend")
	}
	if resp.Candidates[0].FinishReason != genai.FinishReasonStop {
		t.Errorf("finish = %q, want STOP", resp.Candidates[0].FinishReason)
	}
	if u := resp.UsageMetadata; u == nil || u.CandidatesTokenCount != 3 || u.CachedContentTokenCount != 2 {
		t.Errorf("usage = %+v, want 3 candidate tokens and 2 cached", u)
	}
	reqs := f.Engine.Recorder().Requests()
	if len(reqs) != 1 || !strings.HasSuffix(reqs[0].Path, "/models/gemini-2.0-flash:generateContent") {
		t.Errorf("recorded %+v, want one generateContent call", reqs)
	}
}

func TestSDKGenerateContentStream(t *testing.T) {
	f := startFake(t, Options{})
	f.Engine.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three"}}}})
	c := f.sdk(t)
	var text strings.Builder
	var chunks int
	var last *genai.GenerateContentResponse
	for resp, err := range c.Models.GenerateContentStream(context.Background(), "gemini-2.0-flash", genai.Text("count"), nil) {
		if err != nil {
			t.Fatal(err)
		}
		chunks++
		text.WriteString(resp.Text())
		last = resp
	}
	if text.String() != "one two three" || chunks != 3 {
		t.Errorf("got %q in %d chunks, want %q in 3", text.String(), chunks, "one two three")
	}
	if last == nil || last.Candidates[0].FinishReason != genai.FinishReasonStop || last.UsageMetadata == nil {
		t.Errorf("last chunk %+v must carry finishReason STOP and usage", last)
	}
}

func TestSDKFunctionCalling(t *testing.T) {
	f := startFake(t, Options{RequireThoughtSignatures: true})
	f.Engine.SetScript(&sim.Script{Rules: []sim.Rule{
		{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{AfterToolResult: true, Reply: sim.Reply{Text: "It is 21C in Paris."}},
	}})
	c := f.sdk(t)
	ctx := context.Background()
	cfg := &genai.GenerateContentConfig{Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{
		Name:       "get_weather",
		Parameters: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"city": {Type: genai.TypeString}}},
	}}}}}
	history := []*genai.Content{genai.NewContentFromText("What is the weather in Paris?", genai.RoleUser)}
	resp, err := c.Models.GenerateContent(ctx, "gemini-2.5-pro", history, cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.FunctionCalls()
	if len(calls) != 1 || calls[0].Name != "get_weather" || calls[0].Args["city"] != "Paris" {
		t.Fatalf("function calls = %+v, want get_weather(city=Paris)", calls)
	}
	history = append(history, resp.Candidates[0].Content,
		genai.NewContentFromFunctionResponse("get_weather", map[string]any{"tempC": 21}, genai.RoleUser))
	resp, err = c.Models.GenerateContent(ctx, "gemini-2.5-pro", history, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Text(); got != "It is 21C in Paris." {
		t.Errorf("answer = %q", got)
	}
	// Dropping the thought signature is what Gemini 3 rejects.
	history[1].Parts[0].ThoughtSignature = nil
	_, err = c.Models.GenerateContent(ctx, "gemini-2.5-pro", history, cfg)
	var apiErr genai.APIError
	if !asAPIError(err, &apiErr) || apiErr.Code != 400 || !strings.Contains(apiErr.Message, "thought_signature") {
		t.Errorf("err = %v, want a 400 naming thought_signature", err)
	}
}

func asAPIError(err error, target *genai.APIError) bool {
	if e, ok := err.(genai.APIError); ok {
		*target = e
		return true
	}
	return false
}

func TestSDKSeesFaultsAsAPIErrors(t *testing.T) {
	f := startFake(t, Options{})
	f.Engine.SetFaults(&sim.Faults{FailEvery: 1, ErrorStatus: http.StatusTooManyRequests})
	_, err := f.sdk(t).Models.GenerateContent(context.Background(), "gemini-2.0-flash", genai.Text("hi"), nil)
	var apiErr genai.APIError
	if !asAPIError(err, &apiErr) || apiErr.Code != 429 || apiErr.Status != "RESOURCE_EXHAUSTED" {
		t.Errorf("err = %#v, want APIError 429 RESOURCE_EXHAUSTED", err)
	}
}

func TestTokenEndpointRejectsWrongKey(t *testing.T) {
	f := startFake(t, Options{})
	// Same client_email and token_uri, different private key.
	impostor, err := NewServiceAccount("sim-project", f.URL+"/token")
	if err != nil {
		t.Fatal(err)
	}
	c := f.httpClient(t, impostor.KeyJSON)
	resp, err := c.Post(f.URL+"/v1/projects/sim-project/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent", "application/json", strings.NewReader(`{}`))
	if err == nil {
		resp.Body.Close()
		t.Fatal("request with an impostor's key succeeded")
	}
	if !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "Invalid JWT Signature") {
		t.Errorf("err = %v, want invalid_grant: Invalid JWT Signature", err)
	}
	if n := f.Engine.Recorder().Count(); n != 0 {
		t.Errorf("the model endpoint saw %d requests, want 0", n)
	}
}

func TestTokenEndpointChecksClaims(t *testing.T) {
	f := startFake(t, Options{})
	tests := []struct {
		desc string
		form string
		want string
	}{
		{"wrong grant", "grant_type=client_credentials", "unsupported_grant_type"},
		{"not a JWT", "grant_type=" + jwtBearerGrant + "&assertion=abc", "not a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp, err := http.Post(f.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader(tt.form))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != 400 || !strings.Contains(body["error"]+" "+body["error_description"], tt.want) {
				t.Errorf("got %d %v, want 400 containing %q", resp.StatusCode, body, tt.want)
			}
		})
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestModelEndpointNeedsIssuedToken(t *testing.T) {
	f := startFake(t, Options{})
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/v1/projects/p/locations/l/publishers/google/models/m:generateContent", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer ya29.forged")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	defer http.DefaultClient.CloseIdleConnections()
	var body struct {
		Error struct {
			Code   int
			Status string
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 401 || body.Error.Status != "UNAUTHENTICATED" || body.Error.Code != 401 {
		t.Errorf("got %d %+v, want 401 UNAUTHENTICATED", resp.StatusCode, body)
	}
}

func TestThoughtSignaturesRequired(t *testing.T) {
	tests := []struct {
		desc       string
		model      string
		opts       Options
		wantReject bool
	}{
		{"gemini 3 requires them", "gemini-3-pro-preview", Options{}, true},
		{"gemini 2.5 does not", "gemini-2.5-pro", Options{}, false},
		{"the option makes any model require them", "gemini-2.5-pro", Options{RequireThoughtSignatures: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := startFake(t, tt.opts)
			f.Engine.SetScript(&sim.Script{Rules: []sim.Rule{
				{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}, {Name: "get_time"}}}},
				{AfterToolResult: true, Reply: sim.Reply{Text: "Done."}},
			}})
			c := f.sdk(t)
			ctx := context.Background()
			history := []*genai.Content{genai.NewContentFromText("What is the weather in Paris?", genai.RoleUser)}
			resp, err := c.Models.GenerateContent(ctx, tt.model, history, nil)
			if err != nil {
				t.Fatal(err)
			}
			parts := resp.Candidates[0].Content.Parts
			if len(parts) != 2 || len(parts[0].ThoughtSignature) == 0 || len(parts[1].ThoughtSignature) != 0 {
				t.Fatalf("parts = %+v, want two calls, only the first signed", parts)
			}
			history = append(history, resp.Candidates[0].Content,
				&genai.Content{Role: genai.RoleUser, Parts: []*genai.Part{
					genai.NewPartFromFunctionResponse("get_weather", map[string]any{"tempC": 21}),
					genai.NewPartFromFunctionResponse("get_time", map[string]any{"time": "12:00"}),
				}})
			if _, err := c.Models.GenerateContent(ctx, tt.model, history, nil); err != nil {
				t.Fatalf("replay with the signature: %v", err)
			}
			history[1].Parts[0].ThoughtSignature = nil
			_, err = c.Models.GenerateContent(ctx, tt.model, history, nil)
			var apiErr genai.APIError
			switch {
			case tt.wantReject && (!asAPIError(err, &apiErr) || apiErr.Code != 400 || !strings.Contains(apiErr.Message, "thought_signature")):
				t.Errorf("replay without the signature: err = %v, want a 400 naming thought_signature", err)
			case !tt.wantReject && err != nil:
				t.Errorf("replay without the signature: %v, want success", err)
			}
		})
	}
}
