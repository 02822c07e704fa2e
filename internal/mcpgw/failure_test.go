package mcpgw_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/mcpgw"
)

// deadURL is an address nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/mcp"
}

func TestUnreachableUpstream(t *testing.T) {
	up := newUpstreams(t)
	opts := up.options(nil)
	opts.Servers = append(opts.Servers, mcpgw.ServerConfig{Name: "billing", URL: deadURL(t)})
	e := newEnv(t, opts)
	cs := e.connect("sk-sy-ops", "")

	if got, want := toolNames(t, cs), []string{"crm__delete_records", "crm__list_records", "mail__send_email"}; !slices.Equal(got, want) {
		t.Errorf("tools = %v, want %v (billing left out)", got, want)
	}
	// Twice: the first call finds the server down, the second fails at
	// once inside the retry interval; both say which server and why.
	for i := range 2 {
		res, err := call(t, cs, "billing__refund", map[string]any{"id": 1})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		text := resultText(res)
		if !res.IsError || !strings.Contains(text, `MCP server "billing" is unavailable`) || !strings.Contains(text, "try again later") {
			t.Errorf("call %d: result = %q (isError %v), want an error naming billing", i, text, res.IsError)
		}
		if meta, _ := res.Meta[mcpgw.DeniedMetaKey].(map[string]any); meta["code"] != "upstream_unavailable" {
			t.Errorf("call %d: meta = %v, want code upstream_unavailable", i, res.Meta)
		}
	}
	recs := e.audit.all()
	if len(recs) != 2 || recs[0].Outcome != mcpgw.OutcomeError || recs[0].Resource != "billing.refund" {
		t.Errorf("audit = %+v, want two error records for billing.refund", recs)
	}
}

func TestUpstreamRecovers(t *testing.T) {
	f := newFakeUpstream(t, "crm", "list_records")
	e := newEnv(t, mcpgw.Options{
		Servers:       []mcpgw.ServerConfig{{Name: "crm", URL: f.URL()}},
		RetryInterval: time.Minute, RefreshInterval: time.Hour,
	})
	cs := e.connect("sk-sy-ops", legacyVersion)
	if got := toolNames(t, cs); len(got) != 1 {
		t.Fatalf("tools = %v, want crm's", got)
	}

	f.down.Store(true)
	res, err := call(t, cs, "crm__list_records", nil)
	if err != nil || !res.IsError || !strings.Contains(resultText(res), `"crm" is unavailable`) {
		t.Fatalf("call while down = %v, %v; want an unavailable result", res, err)
	}
	e.clock.Advance(time.Hour) // the cached list expires too
	if got := toolNames(t, cs); len(got) != 0 {
		t.Errorf("tools while down = %v, want none", got)
	}

	f.down.Store(false)
	if got := toolNames(t, cs); len(got) != 0 {
		t.Errorf("tools inside the retry interval = %v, want none yet", got)
	}
	e.clock.Advance(time.Minute)
	if got := toolNames(t, cs); !slices.Equal(got, []string{"crm__list_records"}) {
		t.Errorf("tools after recovery = %v, want crm's again", got)
	}
	res, err = call(t, cs, "crm__list_records", nil)
	if err != nil || res.IsError {
		t.Fatalf("call after recovery = %v, %v; want success", res, err)
	}
	if n := f.count("list_records"); n != 1 {
		t.Errorf("upstream calls = %d, want 1 (none while down)", n)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	f := newFakeUpstream(t, "slow", "hang")
	e := newEnv(t, mcpgw.Options{Servers: []mcpgw.ServerConfig{{Name: "slow", URL: f.URL(), Timeout: 50 * time.Millisecond}}})
	t.Cleanup(f.unblock) // before the gateway closes its session
	res, err := call(t, e.connect("sk-sy-ops", ""), "slow__hang", nil)
	if err != nil {
		t.Fatal(err)
	}
	if text := resultText(res); !res.IsError || !strings.Contains(text, `MCP server "slow" is unavailable`) || !strings.Contains(text, "no answer within 50ms") {
		t.Errorf("result = %q (isError %v), want a timeout naming the server", text, res.IsError)
	}
}

func TestUpstreamProtocolErrorForwarded(t *testing.T) {
	// The upstream lists a tool it then refuses as unknown, as a server
	// does while being redeployed.
	s := mcp.NewServer(&mcp.Implementation{Name: "flaky"}, nil)
	s.AddTool(&mcp.Tool{Name: "gone", InputSchema: objectSchema}, nil)
	s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "tools/call" {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: `unknown tool "gone"`}
			}
			return next(ctx, method, req)
		}
	})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(srv.Close)
	e := newEnv(t, mcpgw.Options{Servers: []mcpgw.ServerConfig{{Name: "flaky", URL: srv.URL}}})
	_, err := call(t, e.connect("sk-sy-ops", ""), "flaky__gone", nil)
	var je *jsonrpc.Error
	if !errors.As(err, &je) || je.Code != jsonrpc.CodeInvalidParams || je.Message != `MCP server "flaky": unknown tool "gone"` {
		t.Errorf("err = %v, want the upstream's JSON-RPC error prefixed with the server", err)
	}
	if recs := e.audit.all(); len(recs) != 1 || recs[0].Outcome != mcpgw.OutcomeError {
		t.Errorf("audit = %+v, want one error record", recs)
	}
}

// post sends one raw JSON-RPC message to the gateway.
func (e *env) post(key, sessionID, body string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", legacyVersion)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if sessionID != "" {
		req.Header.Set("Mcp-Session-Id", sessionID)
	}
	resp, err := (&http.Client{Transport: e.clients}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestSessionBelongsToItsKey(t *testing.T) {
	up := newUpstreams(t)
	e := newEnv(t, up.options(nil))
	ops := e.connect("sk-sy-ops", legacyVersion)
	if ops.ID() == "" {
		t.Fatal("no session id: the legacy protocol should make a stateful session")
	}
	list := `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`

	resp, body := e.post("sk-sy-sales", ops.ID(), list)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another key on the session: status %d, want 404; body %s", resp.StatusCode, body)
	}
	var rpc struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &rpc); err != nil || !strings.Contains(rpc.Error.Message, "not found for this key") || !strings.Contains(rpc.Error.Message, "initialize") {
		t.Errorf("body = %s, want a JSON-RPC error telling the client to initialize a new session", body)
	}

	resp, body = e.post("sk-sy-ops", ops.ID(), list)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "crm__delete_records") {
		t.Errorf("the owning key on its session: status %d, body %s; want the tool list", resp.StatusCode, body)
	}
}

func TestHandlerNeedsCaller(t *testing.T) {
	gw, err := mcpgw.New(mcpgw.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	gw.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "Authorization: Bearer sk-sy-") {
		t.Errorf("status %d body %s; want 401 telling the client to send its key", rec.Code, rec.Body)
	}
}

func TestFrontDoorRejectsBadKey(t *testing.T) {
	e := newEnv(t, mcpgw.Options{})
	resp, body := e.post("sk-sy-nope", "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "invalid_api_key") {
		t.Errorf("status %d body %s; want WithCaller's 401", resp.StatusCode, body)
	}
}

func TestClosedGateway(t *testing.T) {
	up := newUpstreams(t)
	e := newEnv(t, up.options(nil))
	cs := e.connect("sk-sy-ops", legacyVersion)
	if err := e.gw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ListTools(t.Context(), nil); err == nil {
		t.Error("ListTools on a closed gateway succeeded")
	}
	resp, body := e.post("sk-sy-ops", "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("status %d body %s; want 503 shutting down", resp.StatusCode, body)
	}
}

func TestCallerChangesApplyToOpenSessions(t *testing.T) {
	up := newUpstreams(t)
	e := newEnv(t, up.options(nil))
	cs := e.connect("sk-sy-ops", legacyVersion)
	if got := toolNames(t, cs); !slices.Contains(got, "crm__delete_records") {
		t.Fatalf("tools = %v, want crm's tools before the move", got)
	}
	// The key moves to a team crm does not admit, mid-session.
	e.auth.edit("sk-sy-ops", func(c *gateway.Caller) { c.TeamID = "team-sales" })
	_, err := call(t, cs, "crm__delete_records", nil)
	var je *jsonrpc.Error
	if !errors.As(err, &je) {
		t.Errorf("err = %v, want delete_records refused once the key's team changed", err)
	}
	if got := toolNames(t, cs); !slices.Equal(got, []string{"mail__send_email"}) {
		t.Errorf("tools after the move = %v, want mail's only", got)
	}
	if n := up.crm.count("delete_records"); n != 0 {
		t.Errorf("upstream delete_records calls = %d, want 0", n)
	}
}
