package mcpgw_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchyard/switchyard/internal/mcpgw"
)

func TestServerConfigYAML(t *testing.T) {
	const doc = `
name: crm
url: https://crm.example.com/mcp
headers: {Authorization: Bearer upstream-token}
allowed_teams: [team-ops]
allowed_keys: [key_123, sk-sy-ab]
tools: [list_records, delete_records]
timeout: 45s
`
	var c mcpgw.ServerConfig
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if c.Name != "crm" || c.URL != "https://crm.example.com/mcp" || c.Headers["Authorization"] != "Bearer upstream-token" ||
		len(c.AllowedTeams) != 1 || len(c.AllowedKeys) != 2 || len(c.Tools) != 2 || c.Timeout != 45*time.Second {
		t.Errorf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestServerConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  mcpgw.ServerConfig
		want []string // substrings of the error; none means valid
	}{
		{"url server", mcpgw.ServerConfig{Name: "crm", URL: "http://127.0.0.1:9/mcp"}, nil},
		{"stdio server", mcpgw.ServerConfig{Name: "git-tools", Command: "mcp-git", Args: []string{"--repo", "."}, Env: map[string]string{"T": "1"}}, nil},
		{"no name", mcpgw.ServerConfig{URL: "http://x/mcp"}, []string{"name: required", "<name>__<tool>"}},
		{"upper case", mcpgw.ServerConfig{Name: "CRM", URL: "http://x/mcp"}, []string{`name: "CRM" must be lowercase`}},
		{"dot", mcpgw.ServerConfig{Name: "crm.v2", URL: "http://x/mcp"}, []string{`name: "crm.v2"`}},
		{"too long", mcpgw.ServerConfig{Name: strings.Repeat("a", 33), URL: "http://x/mcp"}, []string{"at most 32"}},
		{"separator inside", mcpgw.ServerConfig{Name: "a__b", URL: "http://x/mcp"}, []string{`must not contain "__"`, "ambiguous"}},
		{"trailing underscore", mcpgw.ServerConfig{Name: "crm_", URL: "http://x/mcp"}, []string{"end in '_'"}},
		{"neither url nor command", mcpgw.ServerConfig{Name: "crm"}, []string{"url: set url", "or command"}},
		{"both", mcpgw.ServerConfig{Name: "crm", URL: "http://x/mcp", Command: "x"}, []string{"not both"}},
		{"bad scheme", mcpgw.ServerConfig{Name: "crm", URL: "ftp://x/mcp"}, []string{`url: "ftp://x/mcp" is not an http(s) URL`}},
		{"no host", mcpgw.ServerConfig{Name: "crm", URL: "http:///mcp"}, []string{"not an http(s) URL"}},
		{"headers on stdio", mcpgw.ServerConfig{Name: "crm", Command: "x", Headers: map[string]string{"A": "b"}}, []string{"headers: only apply to url servers", "env"}},
		{"args on url", mcpgw.ServerConfig{Name: "crm", URL: "http://x/mcp", Args: []string{"-v"}}, []string{"args and env only apply to command servers"}},
		{"bad header", mcpgw.ServerConfig{Name: "crm", URL: "http://x/mcp", Headers: map[string]string{"X Y": "1"}}, []string{`headers: "X Y" is not a valid header name`}},
		{"empty tool", mcpgw.ServerConfig{Name: "crm", URL: "http://x/mcp", Tools: []string{"a", ""}}, []string{"tools[1]: empty tool name"}},
		{"negative timeout", mcpgw.ServerConfig{Name: "crm", URL: "http://x/mcp", Timeout: -time.Second}, []string{"timeout: -1s is negative"}},
		{"several problems", mcpgw.ServerConfig{Name: "Bad", Timeout: -1}, []string{"name:", "url:", "timeout:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestNewRejectsBadServers(t *testing.T) {
	tests := []struct {
		name    string
		servers []mcpgw.ServerConfig
		want    string
	}{
		{"duplicate", []mcpgw.ServerConfig{{Name: "crm", URL: "http://a/mcp"}, {Name: "crm", URL: "http://b/mcp"}}, `mcp server 1: name "crm" is used twice`},
		{"invalid", []mcpgw.ServerConfig{{Name: "crm", URL: "http://a/mcp"}, {Name: "x"}}, `mcp server 1 ("x"): url: set url`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw, err := mcpgw.New(mcpgw.Options{Servers: tt.servers})
			if err == nil {
				gw.Close()
				t.Fatal("New accepted bad servers")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %q, want %q", err, tt.want)
			}
		})
	}
}
