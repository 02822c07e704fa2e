package mcpgw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/store"
)

// Guard checks tool calls before they are forwarded and their results
// before the agent sees them. Errors are *llm.Error whose Message is
// written for the agent (it is shown to it); any other error blocks the
// call as a guard failure.
type Guard interface {
	// CheckCall may deny the call (policy, DLP, approval pending) or
	// return replacement arguments (redacted); nil arguments mean
	// "forward args unchanged".
	CheckCall(ctx context.Context, caller *gateway.Caller, server, tool string, args json.RawMessage) (json.RawMessage, error)
	// CheckResult sees the upstream's CallToolResult as JSON and may
	// withhold it or return a replacement; nil means "unchanged".
	CheckResult(ctx context.Context, caller *gateway.Caller, server, tool string, result json.RawMessage) (json.RawMessage, error)
}

// Auditor receives one record per tool call, allowed or not.
type Auditor interface {
	Append(ctx context.Context, rec store.AuditRecord) error
}

// AuditorFunc adapts a function to Auditor; e.g. an audit.Chain, whose
// Append takes no context:
//
//	mcpgw.AuditorFunc(func(_ context.Context, r store.AuditRecord) error { return chain.Append(r) })
type AuditorFunc func(ctx context.Context, rec store.AuditRecord) error

// Append calls f.
func (f AuditorFunc) Append(ctx context.Context, rec store.AuditRecord) error { return f(ctx, rec) }

// Options configure a Gateway.
type Options struct {
	// Servers are the upstream MCP servers; see ServerConfig.
	Servers []ServerConfig
	// Guard checks calls and results; nil allows everything.
	Guard Guard
	// Audit records every call; nil records nothing.
	Audit Auditor
	// Logger; nil discards.
	Logger *slog.Logger
	// ToolAccess is a further per-key tool permission (after the server's
	// allowed_teams/allowed_keys and tools list); tool is the upstream
	// name, not the namespaced one. nil allows all.
	ToolAccess func(caller *gateway.Caller, server, tool string) bool
	// RefreshInterval is how long an upstream's tool list is cached;
	// default 1m.
	RefreshInterval time.Duration
	// RetryInterval is how long after a failed upstream the next connect
	// is tried; until then its tools are omitted and calls fail at once.
	// Default 5s.
	RetryInterval time.Duration
	// SessionTimeout closes agent sessions idle this long; default 30m.
	SessionTimeout time.Duration
	// HTTPClient reaches URL upstreams; nil uses http.DefaultClient. Its
	// Timeout must be zero or longer than any call (streams are bounded
	// by ServerConfig.Timeout instead).
	HTTPClient *http.Client
	// Now is the clock; nil uses time.Now.
	Now func() time.Time
}

// Gateway is the MCP gateway. Serve its Handler behind api.WithCaller and
// Close it on shutdown.
type Gateway struct {
	opts      Options
	log       *slog.Logger
	upstreams []*upstream          // in config order
	byName    map[string]*upstream // immutable after New
	handler   *mcp.StreamableHTTPHandler

	mu        sync.Mutex
	views     map[string]*callerView // by key; guarded by mu
	lastSweep time.Time              // guarded by mu
	closed    bool                   // guarded by mu
}

// callerView is the MCP server one key talks to: its tool list and calls
// are evaluated for that key.
type callerView struct {
	server *mcp.Server
	// caller is the key's latest authenticated identity (team, limits),
	// refreshed on every HTTP request, so a session's later calls see
	// changes made to the key.
	caller   atomic.Pointer[gateway.Caller]
	lastUsed atomic.Int64 // unix nanoseconds
}

// viewIdle is how long a view with no sessions is kept.
const viewIdle = 10 * time.Minute

// New validates opts and returns a Gateway. Upstreams are connected
// lazily, on the first tools/list or tools/call that needs them.
func New(opts Options) (*Gateway, error) {
	if err := validateServers(opts.Servers); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Minute
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 5 * time.Second
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = 30 * time.Minute
	}
	g := &Gateway{opts: opts, log: opts.Logger, byName: map[string]*upstream{}, views: map[string]*callerView{}}
	for _, s := range opts.Servers {
		u := newUpstream(s, &g.opts)
		g.upstreams = append(g.upstreams, u)
		g.byName[s.Name] = u
	}
	g.handler = mcp.NewStreamableHTTPHandler(g.serverFor, &mcp.StreamableHTTPOptions{
		Logger:         opts.Logger,
		SessionTimeout: opts.SessionTimeout,
		// The SDK's DNS-rebinding check rejects loopback connections whose
		// Host is not loopback, which is every request behind a local
		// reverse proxy. Rebinding matters for unauthenticated local
		// servers; this endpoint requires a Switchyard key, which a page in
		// a browser cannot present.
		DisableLocalhostProtection: true,
	})
	return g, nil
}

// Handler returns the streamable HTTP MCP endpoint. It needs the caller
// that api.WithCaller puts in the request context.
func (g *Gateway) Handler() http.Handler { return http.HandlerFunc(g.serveHTTP) }

type viewKey struct{}

func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	info := gateway.RequestInfoFrom(r.Context())
	if info == nil || info.Caller == nil {
		writeRPCError(w, http.StatusUnauthorized, "the MCP gateway needs an authenticated caller: send your Switchyard key as `Authorization: Bearer sk-sy-...`")
		return
	}
	view, err := g.view(info.Caller)
	if err != nil {
		writeRPCError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	// Session ids are looked up in one table for all keys; a session is
	// only usable by the key that started it.
	if sid := r.Header.Get("Mcp-Session-Id"); sid != "" && !view.owns(sid) {
		writeRPCError(w, http.StatusNotFound, fmt.Sprintf("MCP session %q not found for this key (it expired, was closed, or belongs to another key); start a new session with initialize", sid))
		return
	}
	g.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viewKey{}, view)))
}

// serverFor is the SDK's getServer: the view serveHTTP chose.
func (g *Gateway) serverFor(r *http.Request) *mcp.Server {
	if v, ok := r.Context().Value(viewKey{}).(*callerView); ok {
		return v.server
	}
	return nil
}

func viewID(c *gateway.Caller) string {
	if c.KeyID != "" {
		return "id:" + c.KeyID
	}
	return "prefix:" + c.KeyPrefix
}

// view returns the caller's view, creating it on first use, and drops
// views that have been idle, sessionless, for a while.
func (g *Gateway) view(c *gateway.Caller) (*callerView, error) {
	now := g.opts.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errors.New("the MCP gateway is shutting down; retry against another instance")
	}
	if now.Sub(g.lastSweep) > time.Minute {
		g.lastSweep = now
		for id, v := range g.views {
			if now.Sub(time.Unix(0, v.lastUsed.Load())) > viewIdle && !v.hasSessions() {
				delete(g.views, id)
			}
		}
	}
	id := viewID(c)
	v := g.views[id]
	if v == nil {
		v = &callerView{}
		v.server = mcp.NewServer(&mcp.Implementation{Name: "switchyard", Title: "Switchyard MCP gateway", Version: "1"}, &mcp.ServerOptions{
			Logger: g.log,
			Instructions: "Tools of several MCP servers, named <server>__<tool>. " +
				"Calls are checked against your organisation's policies; a refused call explains why.",
			Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}},
		})
		v.server.AddReceivingMiddleware(g.toolMiddleware(v))
		g.views[id] = v
	}
	v.caller.Store(c)
	v.lastUsed.Store(now.UnixNano())
	return v, nil
}

func (v *callerView) owns(sessionID string) bool {
	for s := range v.server.Sessions() {
		if s.ID() == sessionID {
			return true
		}
	}
	return false
}

func (v *callerView) hasSessions() bool {
	for range v.server.Sessions() {
		return true
	}
	return false
}

// toolMiddleware answers tools/list and tools/call for the view's key;
// the server has no tools of its own.
func (g *Gateway) toolMiddleware(v *callerView) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			switch r := req.(type) {
			case *mcp.ListToolsRequest:
				return g.listTools(ctx, v.caller.Load()), nil
			case *mcp.CallToolRequest:
				sid := ""
				if r.Session != nil {
					sid = r.Session.ID()
				}
				return g.callTool(ctx, v.caller.Load(), sid, r.Params)
			}
			return next(ctx, method, req)
		}
	}
}

// Close ends every agent session and upstream connection. The handler
// answers 503 afterwards.
func (g *Gateway) Close() error {
	g.mu.Lock()
	g.closed = true
	views := g.views
	g.views = map[string]*callerView{}
	g.mu.Unlock()
	for _, v := range views {
		for s := range v.server.Sessions() {
			_ = s.Close()
		}
	}
	for _, u := range g.upstreams {
		u.Close()
	}
	return nil
}

// writeRPCError answers an HTTP request the SDK never saw with a
// JSON-RPC error body, which MCP clients show.
func writeRPCError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0", "id": nil,
		"error": map[string]any{"code": -32600, "message": msg},
	})
}
