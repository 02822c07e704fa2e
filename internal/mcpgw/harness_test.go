package mcpgw_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"go.uber.org/goleak"

	openaiapi "github.com/switchyard/switchyard/internal/api/openai"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/mcpgw"
	"github.com/switchyard/switchyard/internal/server"
	"github.com/switchyard/switchyard/internal/store"
)

// stdioEnv makes the test binary an MCP server on stdin/stdout, so the
// gateway's command upstream can run it.
const stdioEnv = "MCPGW_TEST_STDIO_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(stdioEnv) == "1" {
		s := mcp.NewServer(&mcp.Implementation{Name: "stdio-notes", Version: "1"}, nil)
		s.AddTool(&mcp.Tool{Name: "add_note", InputSchema: objectSchema}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return textResult("noted " + string(req.Params.Arguments) + " secret=" + os.Getenv("NOTES_SECRET")), nil
		})
		if err := s.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

var objectSchema = map[string]any{"type": "object"}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// fakeUpstream is an MCP server made with the SDK, counting calls.
type fakeUpstream struct {
	srv     *httptest.Server
	mu      sync.Mutex
	calls   map[string]int             // guarded by mu
	args    map[string]json.RawMessage // last arguments per tool; guarded by mu
	headers http.Header                // last request's headers; guarded by mu
	down    atomic.Bool                // answer 503 to everything
	release chan struct{}              // closed by unblock: ends hanging calls
	once    sync.Once
}

// unblock ends the calls of the "hang" tool.
func (f *fakeUpstream) unblock() { f.once.Do(func() { close(f.release) }) }

func newFakeUpstream(t *testing.T, name string, tools ...string) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{calls: map[string]int{}, args: map[string]json.RawMessage{}, release: make(chan struct{})}
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	for _, tool := range tools {
		s.AddTool(&mcp.Tool{Name: tool, Description: name + " " + tool, InputSchema: objectSchema}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			f.mu.Lock()
			f.calls[tool]++
			f.args[tool] = append(json.RawMessage(nil), req.Params.Arguments...)
			f.mu.Unlock()
			if tool == "hang" {
				// The SDK does not always cancel a handler whose client gave
				// up, so the test releases it before closing the server.
				select {
				case <-ctx.Done():
				case <-f.release:
				}
				return textResult("too late"), nil
			}
			if tool == "fail" {
				return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "upstream tool failed"}}}, nil
			}
			return textResult(name + "." + tool + " ok " + string(req.Params.Arguments)), nil
		})
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, "upstream down for the test", http.StatusServiceUnavailable)
			return
		}
		f.mu.Lock()
		f.headers = r.Header.Clone()
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.unblock()
		f.srv.CloseClientConnections()
		f.srv.Close()
		for ss := range s.Sessions() {
			_ = ss.Close()
		}
	})
	return f
}

func (f *fakeUpstream) URL() string { return f.srv.URL }

func (f *fakeUpstream) count(tool string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[tool]
}

func (f *fakeUpstream) lastArgs(tool string) json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.args[tool]
}

func (f *fakeUpstream) lastHeader(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.headers.Get(name)
}

// keys are the test callers, by secret.
var keys = map[string]*gateway.Caller{
	"sk-sy-ops":      {KeyID: "key_ops", KeyPrefix: "sk-sy-op", TeamID: "team-ops", OrgID: "org-1"},
	"sk-sy-sales":    {KeyID: "key_sales", KeyPrefix: "sk-sy-sa", TeamID: "team-sales", OrgID: "org-1"},
	"sk-sy-vip":      {KeyID: "key_vip", KeyPrefix: "sk-sy-vi", TeamID: "team-sales", OrgID: "org-1"},
	"sk-sy-readonly": {KeyID: "key_ro", KeyPrefix: "sk-sy-re", TeamID: "team-ops", OrgID: "org-1"},
}

// stubAuth authenticates the test keys; edit changes a key's identity
// the way the admin API would.
type stubAuth struct {
	mu   sync.Mutex
	keys map[string]gateway.Caller // guarded by mu
}

func newStubAuth() *stubAuth {
	a := &stubAuth{keys: map[string]gateway.Caller{}}
	for k, c := range keys {
		a.keys[k] = *c
	}
	return a
}

func (a *stubAuth) Authenticate(_ context.Context, secret string) (*gateway.Caller, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.keys[secret]
	if !ok {
		return nil, llm.Errorf(http.StatusUnauthorized, "invalid API key").WithCode("invalid_api_key")
	}
	return &c, nil
}

func (a *stubAuth) edit(secret string, f func(*gateway.Caller)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.keys[secret]
	f(&c)
	a.keys[secret] = c
}

// recorder is an in-memory Auditor.
type recorder struct {
	mu   sync.Mutex
	recs []store.AuditRecord
}

func (r *recorder) Append(_ context.Context, rec store.AuditRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

func (r *recorder) all() []store.AuditRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

// details decodes a record's details.
func details(t *testing.T, rec store.AuditRecord) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(rec.Details, &d); err != nil {
		t.Fatalf("audit details %s: %v", rec.Details, err)
	}
	return d
}

// guardFunc is a Guard made of two functions (nil = allow).
type guardFunc struct {
	call   func(server, tool string, args json.RawMessage) (json.RawMessage, error)
	result func(server, tool string, result json.RawMessage) (json.RawMessage, error)
	calls  atomic.Int32
}

func (g *guardFunc) CheckCall(_ context.Context, c *gateway.Caller, server, tool string, args json.RawMessage) (json.RawMessage, error) {
	g.calls.Add(1)
	if c == nil {
		return nil, errors.New("guard saw no caller")
	}
	if g.call == nil {
		return nil, nil
	}
	return g.call(server, tool, args)
}

func (g *guardFunc) CheckResult(_ context.Context, _ *gateway.Caller, server, tool string, result json.RawMessage) (json.RawMessage, error) {
	if g.result == nil {
		return nil, nil
	}
	return g.result(server, tool, result)
}

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// env is a gateway mounted the way the server mounts it (/mcp behind
// api.WithCaller), over fake upstreams.
type env struct {
	t       *testing.T
	gw      *mcpgw.Gateway
	srv     *httptest.Server
	audit   *recorder
	auth    *stubAuth
	clock   *fakeClock
	clients *http.Transport
}

// newEnv starts the gateway with opts (Servers required); Audit and Now
// are filled in.
func newEnv(t *testing.T, opts mcpgw.Options) *env {
	t.Helper()
	e := &env{t: t, audit: &recorder{}, auth: newStubAuth(), clock: newFakeClock(), clients: &http.Transport{}}
	opts.Audit = e.audit
	opts.Now = e.clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	upstreamTransport := &http.Transport{}
	opts.HTTPClient = &http.Client{Transport: upstreamTransport}
	gw, err := mcpgw.New(opts)
	if err != nil {
		t.Fatalf("mcpgw.New: %v", err)
	}
	e.gw = gw
	e.srv = httptest.NewServer(server.Handler(server.Routes{
		MCP: gw.Handler(), Auth: e.auth, OpenAIError: openaiapi.WriteError,
	}, slog.New(slog.DiscardHandler)))
	t.Cleanup(func() {
		if err := gw.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		e.srv.CloseClientConnections()
		e.srv.Close()
		e.clients.CloseIdleConnections()
		upstreamTransport.CloseIdleConnections()
	})
	return e
}

// keyTransport adds the Switchyard key to each request.
type keyTransport struct {
	key  string
	next http.RoundTripper
}

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+k.key)
	return k.next.RoundTrip(r)
}

// connect opens an MCP client session to the gateway with key; version
// "" negotiates the newest protocol (sessionless), an older one makes a
// stateful session.
func (e *env) connect(key, version string) *mcp.ClientSession {
	e.t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "1"}, nil)
	tr := &mcp.StreamableClientTransport{
		Endpoint:             e.srv.URL + "/mcp",
		HTTPClient:           &http.Client{Transport: keyTransport{key: key, next: e.clients}},
		DisableStandaloneSSE: true,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		e.t.Fatalf("connect with %s: %v", key, err)
	}
	e.t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args any) (*mcp.CallToolResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
}

func resultText(res *mcp.CallToolResult) string {
	var s string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			s += tc.Text
		}
	}
	return s
}
