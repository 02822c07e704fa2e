package app_test

import (
	"net/http"
	"testing"
)

// TestMCPMounted: with MCP servers configured, /mcp is served behind key
// authentication (the upstream is connected lazily, so none is needed).
func TestMCPMounted(t *testing.T) {
	e := start(t, guardConfig("mcp:\n  servers:\n    - {name: crm, url: \"http://127.0.0.1:1/mcp\"}\n"))
	status, _, body := e.do(http.MethodPost, "/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`)
	if status != http.StatusUnauthorized {
		t.Errorf("without a key: status %d, want 401; body %s", status, body)
	}
	if e.gw.Guard() == nil {
		t.Error("no guard")
	}
	status, _, body = e.do(http.MethodPost, "/mcp", testKey, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
		"Accept", "application/json, text/event-stream")
	if status != http.StatusOK {
		t.Errorf("with a key: status %d; body %s", status, body)
	}
}
