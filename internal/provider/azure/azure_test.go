package azure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/provider/azure"
	"github.com/switchyard/switchyard/internal/provider/openai"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/azuresim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const (
	apiKey = "azure-key-0123456789"
	tenant = "tenant-1"
	client = "app-1"
	secret = "app-secret-value"
)

type fixture struct {
	eng  *sim.Engine
	fake *azuresim.Server
	srv  *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	eng := sim.NewEngine("azure")
	fake := azuresim.New(eng, azuresim.Options{
		APIKeys: []string{apiKey}, Deployments: []string{"gpt-4o-prod", "embed-prod"},
		TenantID: tenant, ClientID: client, ClientSecret: secret, FilterWords: []string{"forbidden"},
	})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &fixture{eng: eng, fake: fake, srv: srv}
}

// provider builds the registered "azure" provider with opts completed by
// the fixture's endpoint.
func (f *fixture) provider(t *testing.T, opts azure.Options) *openai.Client {
	t.Helper()
	opts.Endpoint = f.srv.URL
	if opts.APIStyle != azure.StyleV1 && opts.APIVersion == "" {
		opts.APIVersion = "2024-10-21"
	}
	if opts.TenantID != "" && opts.TokenURL == "" {
		opts.TokenURL = f.srv.URL + "/" + opts.TenantID + "/oauth2/v2.0/token"
	}
	if err := opts.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	fac, ok := provider.Lookup(azure.Name)
	if !ok {
		t.Fatal("azure not registered")
	}
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	p, err := fac.New(provider.Config{
		Deployment: provider.Deployment{Name: "eu-primary", Model: "gpt-4o-prod"},
		Options:    &opts, HTTPClient: &http.Client{Transport: transport}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p.(*openai.Client)
}

func chat(text string) *llm.ChatRequest {
	return &llm.ChatRequest{Model: "alias", Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.TextContent(text)}}}
}

func TestAuthAndStyles(t *testing.T) {
	tests := []struct {
		name       string
		opts       azure.Options
		wantPath   string
		wantQuery  string
		wantKey    bool
		wantBearer string // prefix
	}{
		{"api key, deployments", azure.Options{APIKey: apiKey}, "/openai/deployments/gpt-4o-prod/chat/completions", "api-version=2024-10-21", true, ""},
		{"entra, deployments", azure.Options{TenantID: tenant, ClientID: client, ClientSecret: secret}, "/openai/deployments/gpt-4o-prod/chat/completions", "api-version=2024-10-21", false, "Bearer azsim."},
		{"api key, v1", azure.Options{APIKey: apiKey, APIStyle: azure.StyleV1}, "/openai/v1/chat/completions", "", true, ""},
		{"static bearer, v1", azure.Options{BearerToken: apiKey, APIStyle: azure.StyleV1}, "/openai/v1/chat/completions", "", false, "Bearer " + apiKey},
		{"explicit deployment", azure.Options{APIKey: apiKey, Deployment: "embed-prod"}, "/openai/deployments/embed-prod/chat/completions", "api-version=2024-10-21", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			p := f.provider(t, tt.opts)
			for range 3 {
				if _, err := p.ChatCompletion(context.Background(), chat("hello")); err != nil {
					t.Fatalf("ChatCompletion: %v", err)
				}
			}
			got := f.eng.Recorder().Requests()[0]
			if got.Path != tt.wantPath || got.Query != tt.wantQuery {
				t.Errorf("called %s?%s; want %s?%s", got.Path, got.Query, tt.wantPath, tt.wantQuery)
			}
			if has := got.Header.Get("Api-Key") != ""; has != tt.wantKey {
				t.Errorf("api-key sent = %v; want %v", has, tt.wantKey)
			}
			if auth := got.Header.Get("Authorization"); !strings.HasPrefix(auth, tt.wantBearer) || (tt.wantBearer == "") != (auth == "") {
				t.Errorf("authorization = %q; want prefix %q", auth, tt.wantBearer)
			}
			var body struct{ Model string }
			_ = json.Unmarshal(got.Body, &body)
			wantModel := "gpt-4o-prod"
			if tt.opts.Deployment != "" {
				wantModel = tt.opts.Deployment
			}
			if body.Model != wantModel {
				t.Errorf("body model = %q; want %q", body.Model, wantModel)
			}
			if tt.opts.TenantID != "" && f.fake.TokensIssued() != 1 {
				t.Errorf("tokens issued for 3 requests = %d; want 1 (cached)", f.fake.TokensIssued())
			}
		})
	}
}

func TestStreamSkipsFilterChunk(t *testing.T) {
	f := newFixture(t)
	f.eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "from azure"}}}})
	p := f.provider(t, azure.Options{APIKey: apiKey})
	s, err := p.StreamChatCompletion(context.Background(), chat("hi"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var text strings.Builder
	sawUsage := false
	for {
		c, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if c.ID == "" || (len(c.Choices) == 0 && c.Usage == nil) {
			t.Fatalf("delivered Azure's empty filter chunk: %+v", c)
		}
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil {
				text.WriteString(*ch.Delta.Content)
			}
		}
		sawUsage = sawUsage || c.Usage != nil
	}
	if text.String() != "from azure" || !sawUsage {
		t.Errorf("text %q, usage seen %v", text.String(), sawUsage)
	}
	if s.Upstream().RequestID == "" {
		t.Error("no upstream request id")
	}
}

func TestEmbeddings(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, azure.Options{APIKey: apiKey, Deployment: "embed-prod"})
	resp, err := p.Embeddings(context.Background(), &llm.EmbeddingRequest{Model: "alias", Input: llm.TextInput("x"), EncodingFormat: "base64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 1 || len(resp.Data[0].Embedding.Floats) == 0 || !resp.Data[0].Embedding.Base64 {
		t.Errorf("data = %+v", resp.Data)
	}
	if p := f.eng.Recorder().Requests()[0].Path; p != "/openai/deployments/embed-prod/embeddings" {
		t.Errorf("path = %s", p)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name        string
		opts        azure.Options
		prompt      string
		faults      *sim.Faults
		wantStatus  int
		wantCode    string
		wantParam   string
		wantRetry   time.Duration
		wantMessage string
	}{
		{name: "content filter", opts: azure.Options{APIKey: apiKey}, prompt: "a forbidden thing", wantStatus: 400, wantCode: "content_filter", wantParam: "prompt", wantMessage: "content management policy"},
		{name: "throttled", opts: azure.Options{APIKey: apiKey}, prompt: "hi", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 429, RetryAfter: 6 * time.Second},
			wantStatus: 429, wantCode: "rate_limit_exceeded", wantRetry: 6 * time.Second, wantMessage: "retry after 6 seconds"},
		{name: "unknown deployment", opts: azure.Options{APIKey: apiKey, Deployment: "missing"}, prompt: "hi", wantStatus: 502, wantCode: "upstream_not_found", wantMessage: `"missing"`},
		{name: "wrong api key", opts: azure.Options{APIKey: "wrong"}, prompt: "hi", wantStatus: 502, wantCode: "upstream_auth_failed", wantMessage: "credentials for azure"},
		{name: "wrong client secret", opts: azure.Options{TenantID: tenant, ClientID: client, ClientSecret: "nope"}, prompt: "hi", wantStatus: 502, wantCode: "upstream_auth_failed", wantMessage: "AADSTS7000215"},
		{name: "outage", opts: azure.Options{APIKey: apiKey}, prompt: "hi", faults: &sim.Faults{Down: true}, wantStatus: 503, wantMessage: "eu-primary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.eng.SetFaults(tt.faults)
			p := f.provider(t, tt.opts)
			_, err := p.ChatCompletion(context.Background(), chat(tt.prompt))
			le, ok := errors.AsType[*llm.Error](err)
			if !ok {
				t.Fatalf("err = %v; want *llm.Error", err)
			}
			if le.Status != tt.wantStatus || le.Code != tt.wantCode || le.Param != tt.wantParam || le.RetryAfter != tt.wantRetry || !le.Upstream {
				t.Errorf("got %d code=%q param=%q retry=%v upstream=%v; want %d %q %q %v", le.Status, le.Code, le.Param, le.RetryAfter, le.Upstream, tt.wantStatus, tt.wantCode, tt.wantParam, tt.wantRetry)
			}
			if !strings.Contains(le.Message, tt.wantMessage) {
				t.Errorf("message %q lacks %q", le.Message, tt.wantMessage)
			}
			if strings.Contains(le.Message, secret) || strings.Contains(le.Message, "nope") && tt.opts.ClientSecret == "nope" {
				t.Errorf("message leaks a secret: %q", le.Message)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	base := func(mut func(o *azure.Options)) *azure.Options {
		o := &azure.Options{Endpoint: "https://r.openai.azure.com", APIVersion: "2024-10-21", APIKey: "k"}
		mut(o)
		return o
	}
	tests := []struct {
		name    string
		opts    *azure.Options
		wantErr string
	}{
		{"ok", base(func(o *azure.Options) {}), ""},
		{"v1 needs no version", base(func(o *azure.Options) { o.APIStyle, o.APIVersion = "v1", "" }), ""},
		{"no endpoint", base(func(o *azure.Options) { o.Endpoint = "" }), "endpoint is required"},
		{"no version", base(func(o *azure.Options) { o.APIVersion = "" }), "api_version is required"},
		{"bad version", base(func(o *azure.Options) { o.APIVersion = "latest" }), "YYYY-MM-DD"},
		{"bad style", base(func(o *azure.Options) { o.APIStyle = "v2" }), "api_style"},
		{"no credentials", base(func(o *azure.Options) { o.APIKey = "" }), "no credentials"},
		{"two credentials", base(func(o *azure.Options) { o.BearerToken = "t" }), "only one"},
		{"partial entra", base(func(o *azure.Options) { o.APIKey, o.TenantID, o.ClientID = "", "t", "c" }), "client_secret missing"},
		{"token_url without entra", base(func(o *azure.Options) { o.TokenURL = "https://login/x" }), "only to Entra ID"},
		{"credential header", base(func(o *azure.Options) { o.Headers = map[string]string{"Api-Key": "x"} }), "carries credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate = %v; want %q", err, tt.wantErr)
			}
		})
	}
}

// canned records a request and answers it with a fixed body.
type canned struct {
	body []byte
	got  *http.Request
	sent []byte
}

func (c *canned) RoundTrip(req *http.Request) (*http.Response, error) {
	c.got = req
	c.sent, _ = io.ReadAll(req.Body)
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(c.body)), Request: req}, nil
}

// TestGoldenRequests: canonical request -> Azure wire request (URL,
// headers with secrets masked, body) for each API style.
func TestGoldenRequests(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	styles := map[string]azure.Options{
		"deployments": {Endpoint: "https://res.openai.azure.com", APIVersion: "2024-10-21", APIKey: "azure-secret"},
		"v1":          {Endpoint: "https://res.openai.azure.com/", APIStyle: azure.StyleV1, BearerToken: "azure-secret"},
	}
	for _, in := range files {
		for style, opts := range styles {
			t.Run(filepath.Base(in)+"/"+style, func(t *testing.T) {
				raw, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				var req llm.ChatRequest
				if err := json.Unmarshal(raw, &req); err != nil {
					t.Fatal(err)
				}
				rt := &canned{body: []byte(`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[]}`)}
				c := azure.New(provider.Config{Deployment: provider.Deployment{Name: "golden", Model: "gpt-4o-prod"},
					HTTPClient: &http.Client{Transport: rt}, Logger: slog.New(slog.DiscardHandler)}, &opts)
				if req.Stream {
					rt.body = []byte("data: [DONE]\n\n")
					s, err := c.StreamChatCompletion(context.Background(), &req)
					if err != nil {
						t.Fatal(err)
					}
					s.Close()
				} else if _, err := c.ChatCompletion(context.Background(), &req); err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				fmt.Fprintf(&b, "%s %s\n", rt.got.Method, rt.got.URL)
				names := make([]string, 0, len(rt.got.Header))
				for k := range rt.got.Header {
					names = append(names, k)
				}
				for _, k := range slices.Sorted(slices.Values(names)) {
					fmt.Fprintf(&b, "%s: %s\n", k, strings.ReplaceAll(rt.got.Header.Get(k), "azure-secret", "<secret>"))
				}
				b.WriteByte('\n')
				_ = json.Indent(&b, rt.sent, "", "  ")
				b.WriteByte('\n')
				path := strings.TrimSuffix(in, ".json") + "." + style + ".golden"
				if *update {
					if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if !bytes.Equal(b.Bytes(), want) {
					t.Errorf("%s differs\n--- got\n%s\n--- want\n%s", path, b.Bytes(), want)
				}
			})
		}
	}
}

// TestEntraFetchHonoursTheRequest: a request stuck behind a slow token
// endpoint gives up when its own context ends; the fetch goes on and
// serves the requests after it.
func TestEntraFetchHonoursTheRequest(t *testing.T) {
	f := newFixture(t)
	gate := make(chan struct{})
	var fetches atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		<-gate
		f.fake.ServeHTTP(w, r) // the simulator's own token endpoint answers
	}))
	defer slow.Close()
	p := f.provider(t, azure.Options{TenantID: tenant, ClientID: client, ClientSecret: secret,
		TokenURL: slow.URL + "/" + tenant + "/oauth2/v2.0/token"})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.ChatCompletion(ctx, chat("hello"))
	select {
	case <-gate:
		t.Fatal("gate closed early")
	default:
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && llm.AsError(err).Status != http.StatusGatewayTimeout {
		t.Fatalf("request behind a stuck token fetch: %v; want its deadline", err)
	}
	if n := len(f.eng.Recorder().Requests()); n != 0 {
		t.Fatalf("%d requests reached the deployment without a token", n)
	}

	close(gate)
	if _, err := p.ChatCompletion(context.Background(), chat("hello")); err != nil {
		t.Fatalf("after the token endpoint answered: %v", err)
	}
	if n := fetches.Load(); n < 1 || n > 2 {
		t.Fatalf("%d token fetches; want the stuck one (and at most one more)", n)
	}
	if _, err := p.ChatCompletion(context.Background(), chat("again")); err != nil {
		t.Fatal(err)
	}
	if n := f.fake.TokensIssued(); n != int(fetches.Load()) {
		t.Fatalf("%d tokens issued for %d fetches; the cached token was not reused", n, fetches.Load())
	}
}
