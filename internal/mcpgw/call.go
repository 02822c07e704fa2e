package mcpgw

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/store"
)

// AuditAction is the action of the audit record each tool call writes.
const AuditAction = "mcp.tools/call"

// Audit outcomes.
const (
	OutcomeAllowed = "allowed"
	OutcomeDenied  = "denied"
	OutcomeError   = "error"
)

// DeniedMetaKey is the _meta key of a refused call's result; its value is
// {"code", "status", "stage"} for programs (the text is for the agent).
const DeniedMetaKey = "switchyard/denied"

// permitted reports whether caller may use tool (an upstream name) of u,
// short of the guard.
func (g *Gateway) permitted(caller *gateway.Caller, u *upstream, tool string) bool {
	if !u.cfg.admits(caller) || !u.cfg.exposes(tool) {
		return false
	}
	return g.opts.ToolAccess == nil || g.opts.ToolAccess(caller, u.cfg.Name, tool)
}

// listTools is the union of the tools caller may use. Upstreams are
// listed concurrently; one that cannot be listed is left out (and logged)
// so that one dead server does not hide the others.
func (g *Gateway) listTools(ctx context.Context, caller *gateway.Caller) *mcp.ListToolsResult {
	lists := make([][]*mcp.Tool, len(g.upstreams))
	var wg sync.WaitGroup
	for i, u := range g.upstreams {
		if !u.cfg.admits(caller) {
			continue
		}
		wg.Go(func() {
			tools, err := u.Tools(ctx)
			if err != nil {
				g.log.WarnContext(ctx, "MCP server left out of tools/list", "mcp_server", u.cfg.Name, "error", err)
				return
			}
			for _, t := range tools {
				if g.permitted(caller, u, t.Name) {
					nt := *t
					nt.Name = u.cfg.Name + NamespaceSeparator + t.Name
					lists[i] = append(lists[i], &nt)
				}
			}
		})
	}
	wg.Wait()
	res := &mcp.ListToolsResult{Tools: []*mcp.Tool{}}
	for _, l := range lists {
		res.Tools = append(res.Tools, l...)
	}
	// The list depends on the key: no shared caches.
	res.CacheScope = "private"
	return res
}

// resolve splits a namespaced tool name into its upstream and tool.
func (g *Gateway) resolve(name string) (*upstream, string, bool) {
	server, tool, ok := strings.Cut(name, NamespaceSeparator)
	if !ok || tool == "" {
		return nil, "", false
	}
	u := g.byName[server]
	return u, tool, u != nil
}

// callRecord accumulates the audit details of one call.
type callRecord struct {
	Server          string `json:"server"`
	Tool            string `json:"tool"`
	Session         string `json:"session,omitempty"`
	ArgumentsDigest string `json:"arguments_digest"`
	ArgumentsBytes  int    `json:"arguments_bytes"`
	// ForwardedDigest is set when the guard changed the arguments.
	ForwardedDigest string `json:"forwarded_arguments_digest,omitempty"`
	// Guard is the guard's decision per stage: allow, modify, deny, error.
	Guard     map[string]string `json:"guard,omitempty"`
	Code      string            `json:"code,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	ToolError bool              `json:"tool_error,omitempty"`
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// callTool runs one tools/call: access, guard, forward, result guard,
// audit. Refusals the agent should reason about come back as isError
// results; a tool that does not exist for this key is a JSON-RPC error,
// as MCP specifies for unknown tools.
func (g *Gateway) callTool(ctx context.Context, caller *gateway.Caller, session string, p *mcp.CallToolParamsRaw) (*mcp.CallToolResult, error) {
	args := p.Arguments
	if len(bytes.TrimSpace(args)) == 0 || string(bytes.TrimSpace(args)) == "null" {
		args = json.RawMessage("{}")
	}
	rec := &callRecord{Tool: p.Name, Session: session, ArgumentsDigest: digest(args), ArgumentsBytes: len(args), Guard: map[string]string{}}
	audit := func(outcome string) { g.audit(ctx, caller, rec, outcome) }

	u, tool, ok := g.resolve(p.Name)
	if ok {
		rec.Server, rec.Tool = u.cfg.Name, tool
	}
	if !ok || !g.permitted(caller, u, tool) {
		rec.Code, rec.Reason = "tool_not_available", "unknown tool or not permitted for this key"
		audit(OutcomeDenied)
		return nil, unknownTool(p.Name)
	}
	tools, err := u.Tools(ctx)
	if err != nil {
		rec.Code, rec.Reason = "upstream_unavailable", err.Error()
		audit(OutcomeError)
		return errorResult(err.Error(), "upstream_unavailable", 503, "upstream"), nil
	}
	if !hasTool(tools, tool) {
		rec.Code, rec.Reason = "tool_not_available", "the server does not list this tool"
		audit(OutcomeDenied)
		return nil, unknownTool(p.Name)
	}

	if g.opts.Guard != nil {
		newArgs, err := g.opts.Guard.CheckCall(ctx, caller, u.cfg.Name, tool, args)
		if err != nil {
			res, outcome := g.refusal(rec, "call", p.Name, err)
			audit(outcome)
			return res, nil
		}
		rec.Guard["call"] = "allow"
		if newArgs != nil && !bytes.Equal(newArgs, args) {
			if !json.Valid(newArgs) {
				res, outcome := g.refusal(rec, "call", p.Name, errors.New("guard returned arguments that are not JSON"))
				audit(outcome)
				return res, nil
			}
			rec.Guard["call"] = "modify"
			rec.ForwardedDigest = digest(newArgs)
			args = newArgs
		}
	}

	res, err := u.Call(ctx, tool, args)
	if err != nil {
		rec.Reason = err.Error()
		if je := upstreamRPCError(err); je != nil {
			rec.Code = "upstream_error"
			audit(OutcomeError)
			return nil, &jsonrpc.Error{Code: je.Code, Message: fmt.Sprintf("MCP server %q: %s", u.cfg.Name, je.Message), Data: je.Data}
		}
		rec.Code = "upstream_unavailable"
		audit(OutcomeError)
		return errorResult(err.Error(), rec.Code, 503, "upstream"), nil
	}
	rec.ToolError = res.IsError

	if g.opts.Guard != nil {
		checked, err := g.checkResult(ctx, caller, u.cfg.Name, tool, res)
		if err != nil {
			res, outcome := g.refusal(rec, "result", p.Name, err)
			audit(outcome)
			return res, nil
		}
		rec.Guard["result"] = "allow"
		if checked != res {
			rec.Guard["result"] = "modify"
		}
		res = checked
	}
	audit(OutcomeAllowed)
	return res, nil
}

// checkResult runs the result guard; it returns res itself when the
// guard left it unchanged.
func (g *Gateway) checkResult(ctx context.Context, caller *gateway.Caller, server, tool string, res *mcp.CallToolResult) (*mcp.CallToolResult, error) {
	raw, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encode result for the guard: %w", err)
	}
	out, err := g.opts.Guard.CheckResult(ctx, caller, server, tool, raw)
	if err != nil || out == nil || bytes.Equal(out, raw) {
		return res, err
	}
	var nres mcp.CallToolResult
	if err := json.Unmarshal(out, &nres); err != nil {
		return nil, fmt.Errorf("guard returned a result that is not a CallToolResult: %w", err)
	}
	return &nres, nil
}

// refusal turns a guard error into the isError result the agent sees and
// the audit outcome: an *llm.Error is a decision (denied), anything else
// a guard failure (error); both block the call.
func (g *Gateway) refusal(rec *callRecord, stage, name string, err error) (*mcp.CallToolResult, string) {
	var le *llm.Error
	if errors.As(err, &le) {
		rec.Guard[stage] = "deny"
		rec.Code, rec.Reason = le.Code, le.Message
		what := "the call to " + name
		if stage == "result" {
			what = "the result of " + name
		}
		return errorResult(fmt.Sprintf("Switchyard blocked %s: %s", what, le.Message), le.Code, le.Status, stage), OutcomeDenied
	}
	g.log.Error("MCP guard failed", "tool", name, "stage", stage, "error", err)
	rec.Guard[stage] = "error"
	rec.Code, rec.Reason = "guard_error", err.Error()
	msg := fmt.Sprintf("Switchyard could not check the call to %s, so it was not made; try again, and report it to your Switchyard administrator if it persists", name)
	if stage == "result" {
		msg = fmt.Sprintf("Switchyard could not check the result of %s, so it is withheld (the tool did run); report it to your Switchyard administrator", name)
	}
	return errorResult(msg, "guard_error", 500, stage), OutcomeError
}

func errorResult(msg, code string, status int, stage string) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		IsError: true,
		Content: []mcp.Content{&mcp.TextContent{Text: msg}},
		Meta:    mcp.Meta{DeniedMetaKey: map[string]any{"code": code, "status": status, "stage": stage}},
	}
}

func unknownTool(name string) error {
	return &jsonrpc.Error{
		Code:    jsonrpc.CodeInvalidParams,
		Message: fmt.Sprintf("unknown tool %q: it does not exist or this key may not use it; tools/list shows the tools this key may call, named <server>%s<tool>", name, NamespaceSeparator),
	}
}

func hasTool(tools []*mcp.Tool, name string) bool {
	for _, t := range tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// audit writes the call's record. A failed write is logged, not returned:
// the agent's call has already been decided.
func (g *Gateway) audit(ctx context.Context, caller *gateway.Caller, rec *callRecord, outcome string) {
	if g.opts.Audit == nil {
		return
	}
	if len(rec.Guard) == 0 {
		rec.Guard = nil
	}
	details, err := json.Marshal(rec)
	if err != nil {
		g.log.ErrorContext(ctx, "MCP audit record not encoded", "error", err)
		return
	}
	r := store.AuditRecord{
		Time:          g.opts.Now(),
		ActorKind:     store.ActorKey,
		Action:        AuditAction,
		Resource:      rec.Server + "." + rec.Tool,
		Outcome:       outcome,
		Details:       details,
		RequestDigest: rec.ArgumentsDigest,
	}
	if rec.Server == "" {
		r.Resource = rec.Tool
	}
	if caller != nil {
		r.ActorID, r.TeamID, r.OrgID = caller.KeyID, caller.TeamID, caller.OrgID
	}
	if err := g.opts.Audit.Append(context.WithoutCancel(ctx), r); err != nil {
		g.log.ErrorContext(ctx, "MCP audit record not written", "action", r.Action, "resource", r.Resource, "error", err)
	}
}
