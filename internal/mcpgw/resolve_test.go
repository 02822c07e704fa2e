package mcpgw

import (
	"strings"
	"testing"
)

// FuzzNamespace checks that every namespaced name of a valid server
// resolves back to its server and tool, whatever the tool is called.
func FuzzNamespace(f *testing.F) {
	f.Add("crm", "delete_records")
	f.Add("a-b", "__x")
	f.Add("x1", "tool__with__separators")
	f.Add("m_a", "_lead")
	f.Fuzz(func(t *testing.T, server, tool string) {
		cfg := ServerConfig{Name: server, URL: "http://127.0.0.1/mcp"}
		if cfg.Validate() != nil || tool == "" {
			return
		}
		// A second server whose name is a prefix must not capture it.
		other := ServerConfig{Name: server + "-x", URL: "http://127.0.0.1/mcp"}
		if len(other.Name) > maxNameLen {
			other.Name = "zz"
		}
		if other.Name == server {
			return
		}
		g, err := New(Options{Servers: []ServerConfig{cfg, other}})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		defer g.Close()
		u, got, ok := g.resolve(server + NamespaceSeparator + tool)
		if !ok || u.cfg.Name != server || got != tool {
			t.Fatalf("resolve(%q) = %v, %q, %v; want %q, %q", server+NamespaceSeparator+tool, u, got, ok, server, tool)
		}
		if _, _, ok := g.resolve(server + strings.TrimPrefix(NamespaceSeparator, "_") + tool); ok && !strings.HasPrefix(tool, "_") {
			t.Fatalf("a name without the full separator resolved")
		}
	})
}
