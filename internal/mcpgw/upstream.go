package mcpgw

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// upstream is the gateway's client connection to one MCP server. All
// callers share it: the upstream sees the gateway, with the credentials
// in ServerConfig.Headers, never the agent's key.
type upstream struct {
	cfg    ServerConfig
	client *mcp.Client
	http   *http.Client
	log    *slog.Logger
	now    func() time.Time
	// refresh is how long a tool list is served from cache; retry is how
	// long after a failure the next connect is attempted (earlier requests
	// fail at once instead of each waiting for a dead upstream).
	refresh, retry time.Duration

	// mu serialises connecting and listing, so a burst of requests makes
	// one connect, not one each.
	mu       sync.Mutex
	session  *mcp.ClientSession // or nil; guarded by mu
	tools    []*mcp.Tool        // guarded by mu
	listedAt time.Time          // zero when tools is stale; guarded by mu
	lastErr  error              // the last connect/list failure; guarded by mu
	failedAt time.Time          // guarded by mu

	// closing counts sessions being closed in the background: closing
	// may wait for the upstream (a DELETE), which no request should.
	closing sync.WaitGroup
}

// UnavailableError says an upstream server could not be reached or
// failed mid-exchange. Agents see its message.
type UnavailableError struct {
	Server string
	Err    error
}

// Error is the message agents see: the server, the cause, what to do.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("MCP server %q is unavailable: %v; try again later, or ask a Switchyard administrator to check the server", e.Server, e.Err)
}

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Err }

func newUpstream(cfg ServerConfig, o *Options) *upstream {
	u := &upstream{
		cfg:     cfg,
		client:  mcp.NewClient(&mcp.Implementation{Name: "switchyard-mcp-gateway", Version: "1"}, &mcp.ClientOptions{Logger: o.Logger}),
		log:     o.Logger.With("mcp_server", cfg.Name),
		now:     o.Now,
		refresh: o.RefreshInterval,
		retry:   o.RetryInterval,
	}
	if cfg.URL != "" {
		base := o.HTTPClient
		if base == nil {
			base = http.DefaultClient
		}
		c := *base
		c.Transport = headerTransport{headers: cfg.Headers, next: base.Transport}
		u.http = &c
	}
	return u
}

// transport returns a fresh transport for one connection.
func (u *upstream) transport() mcp.Transport {
	if u.cfg.Command != "" {
		cmd := exec.Command(u.cfg.Command, u.cfg.Args...)
		if len(u.cfg.Env) > 0 {
			cmd.Env = os.Environ()
			for k, v := range u.cfg.Env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		return &mcp.CommandTransport{Command: cmd}
	}
	// The standalone SSE stream only carries server-initiated messages,
	// which the gateway does not relay; without it a session is a plain
	// request/response exchange that holds no connection open.
	return &mcp.StreamableClientTransport{Endpoint: u.cfg.URL, HTTPClient: u.http, DisableStandaloneSSE: true, MaxRetries: -1}
}

// sessionLocked returns the live session, connecting if there is none.
// After a failure it fails fast until the retry interval has passed.
func (u *upstream) sessionLocked(ctx context.Context) (*mcp.ClientSession, error) {
	if u.session != nil {
		return u.session, nil
	}
	if u.lastErr != nil && u.now().Sub(u.failedAt) < u.retry {
		return nil, u.lastErr
	}
	cctx, cancel := context.WithTimeout(ctx, u.cfg.timeout())
	defer cancel()
	s, err := u.client.Connect(cctx, u.transport(), nil)
	if err != nil {
		return nil, u.failLocked(fmt.Errorf("connect: %w", err))
	}
	u.session, u.lastErr = s, nil
	return s, nil
}

// failLocked records a failure and returns it as an *UnavailableError.
func (u *upstream) failLocked(err error) error {
	ue := &UnavailableError{Server: u.cfg.Name, Err: err}
	u.lastErr, u.failedAt = ue, u.now()
	u.log.Warn("MCP upstream failed", "error", err)
	return ue
}

// dropLocked forgets the session so the next use reconnects, and closes
// it in the background.
func (u *upstream) dropLocked() {
	if s := u.session; s != nil {
		u.session = nil
		u.closing.Go(func() { _ = s.Close() })
	}
	u.listedAt = time.Time{}
}

// Tools returns the upstream's tool list, from cache while it is fresh.
// An upstream that cannot be listed returns an *UnavailableError.
func (u *upstream) Tools(ctx context.Context) ([]*mcp.Tool, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.listedAt.IsZero() && u.now().Sub(u.listedAt) < u.refresh {
		return u.tools, nil
	}
	// A list is safe to repeat: a session the upstream forgot (it
	// restarted) gets one reconnect before the server counts as down.
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var s *mcp.ClientSession
		if s, err = u.sessionLocked(ctx); err != nil {
			return nil, err
		}
		var tools []*mcp.Tool
		if tools, err = u.listLocked(ctx, s); err == nil {
			u.tools, u.listedAt = tools, u.now()
			return tools, nil
		}
		if isProtocolError(err) {
			return nil, &UnavailableError{Server: u.cfg.Name, Err: fmt.Errorf("tools/list: %w", err)}
		}
		u.dropLocked()
	}
	return nil, u.failLocked(fmt.Errorf("tools/list: %w", err))
}

func (u *upstream) listLocked(ctx context.Context, s *mcp.ClientSession) ([]*mcp.Tool, error) {
	lctx, cancel := context.WithTimeout(ctx, u.cfg.timeout())
	defer cancel()
	var tools []*mcp.Tool
	for t, err := range s.Tools(lctx, nil) {
		if err != nil {
			return nil, err
		}
		tools = append(tools, t)
	}
	return tools, nil
}

// Call forwards one tool call. It is never retried: the upstream may have
// acted on a call whose answer was lost. A JSON-RPC error from the
// upstream comes back as is; a transport failure drops the session (the
// next use reconnects) and comes back as an *UnavailableError.
func (u *upstream) Call(ctx context.Context, tool string, args json.RawMessage) (*mcp.CallToolResult, error) {
	u.mu.Lock()
	s, err := u.sessionLocked(ctx)
	u.mu.Unlock()
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, u.cfg.timeout())
	defer cancel()
	params := &mcp.CallToolParams{Name: tool}
	if len(args) > 0 {
		params.Arguments = args
	}
	res, err := s.CallTool(cctx, params)
	switch {
	case err == nil || isProtocolError(err):
		return res, err
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case cctx.Err() != nil:
		// A slow tool is not a dead server: keep the session, and let
		// other calls try.
		return nil, &UnavailableError{Server: u.cfg.Name, Err: fmt.Errorf("tools/call %s: no answer within %s", tool, u.cfg.timeout())}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.session == s {
		u.dropLocked()
	}
	return nil, u.failLocked(fmt.Errorf("tools/call %s: %w", tool, err))
}

// Close ends the session (for a stdio server, the process) and waits
// for sessions being closed.
func (u *upstream) Close() {
	u.mu.Lock()
	u.dropLocked()
	u.mu.Unlock()
	u.closing.Wait()
}

// codeRejected is the SDK's "rejected by transport" code: its transports
// wrap failures to reach the server (refused connections, 502/503/504) in
// a JSON-RPC error with this code, which is not an answer from the server.
const codeRejected = -32005

// isProtocolError reports whether err carries the upstream's JSON-RPC
// answer (the exchange worked; the upstream said no) rather than a
// failure to talk to it.
func isProtocolError(err error) bool {
	return upstreamRPCError(err) != nil
}

// upstreamRPCError returns the upstream's JSON-RPC error within err, or nil.
func upstreamRPCError(err error) *jsonrpc.Error {
	if err == nil {
		return nil
	}
	if je, ok := err.(*jsonrpc.Error); ok && je.Code != codeRejected {
		return je
	}
	switch w := err.(type) {
	case interface{ Unwrap() error }:
		return upstreamRPCError(w.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range w.Unwrap() {
			if je := upstreamRPCError(e); je != nil {
				return je
			}
		}
	}
	return nil
}

// headerTransport adds the upstream's configured headers to each request.
type headerTransport struct {
	headers map[string]string
	next    http.RoundTripper // or nil: http.DefaultTransport
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if len(t.headers) > 0 {
		r = r.Clone(r.Context())
		for k, v := range t.headers {
			r.Header.Set(k, v)
		}
	}
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}
