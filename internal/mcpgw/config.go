package mcpgw

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/gateway"
)

// NamespaceSeparator joins a server name and an upstream tool name into the
// tool name agents see: "crm" + "__" + "delete_records".
const NamespaceSeparator = "__"

// DefaultTimeout bounds each exchange with an upstream server (connect,
// list, call) when ServerConfig.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// maxNameLen keeps namespaced names short enough for the 64-character
// function-name limit of the model APIs agents sit on.
const maxNameLen = 32

var serverNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// ServerConfig is one upstream MCP server.
type ServerConfig struct {
	// Name is the namespace of the server's tools: [a-z0-9_-]+, at most 32
	// characters, no "__" and no trailing "_". Required.
	Name string `yaml:"name"`
	// URL is the upstream's streamable HTTP endpoint. Exactly one of URL
	// and Command is required.
	URL string `yaml:"url"`
	// Headers are sent with every request to URL, e.g. the upstream's own
	// Authorization; use ${ENV} or ${file:...} for secrets.
	Headers map[string]string `yaml:"headers"`
	// Command runs a stdio upstream (newline-delimited JSON-RPC on its
	// stdin/stdout); it is started on first use and restarted after a
	// failure.
	Command string `yaml:"command"`
	// Args are Command's arguments.
	Args []string `yaml:"args"`
	// Env adds variables to Command's environment (which otherwise is the
	// gateway's).
	Env map[string]string `yaml:"env"`
	// AllowedTeams and AllowedKeys limit who may see and call the server's
	// tools: a caller is admitted when its team is in AllowedTeams or its
	// key (id or display prefix) is in AllowedKeys. Both empty admits all.
	AllowedTeams []string `yaml:"allowed_teams"`
	AllowedKeys  []string `yaml:"allowed_keys"`
	// Tools is the allow-list of upstream tool names exposed; empty exposes
	// every tool the upstream lists.
	Tools []string `yaml:"tools"`
	// Timeout bounds each connect, list and call; default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Validate reports every problem with the server's settings; each message
// starts with the YAML field it is about.
func (c *ServerConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case c.Name == "":
		bad("name: required; it prefixes the server's tools as <name>__<tool>")
	case !serverNameRE.MatchString(c.Name) || len(c.Name) > maxNameLen:
		bad("name: %q must be lowercase letters, digits, '_' or '-' (at most %d characters)", c.Name, maxNameLen)
	case strings.Contains(c.Name, NamespaceSeparator) || strings.HasSuffix(c.Name, "_"):
		bad("name: %q must not contain %q or end in '_': the tool names <name>__<tool> would be ambiguous", c.Name, NamespaceSeparator)
	}
	switch {
	case c.URL == "" && c.Command == "":
		bad("url: set url (a streamable HTTP MCP endpoint) or command (a stdio MCP server)")
	case c.URL != "" && c.Command != "":
		bad("url: set url or command, not both")
	case c.URL != "":
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("url: %q is not an http(s) URL such as https://mcp.example.com/mcp", c.URL)
		}
	}
	if c.Command != "" && len(c.Headers) > 0 {
		bad("headers: only apply to url servers; pass a stdio server's secrets with env")
	}
	if c.URL != "" && (len(c.Args) > 0 || len(c.Env) > 0) {
		bad("args: args and env only apply to command servers")
	}
	for k := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			bad("headers: %q is not a valid header name", k)
		}
	}
	for i, t := range c.Tools {
		if t == "" {
			bad("tools[%d]: empty tool name", i)
		}
	}
	if c.Timeout < 0 {
		bad("timeout: %s is negative; use a duration such as 30s", c.Timeout)
	}
	return errors.Join(errs...)
}

func (c *ServerConfig) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// admits reports whether caller may use the server at all.
func (c *ServerConfig) admits(caller *gateway.Caller) bool {
	if len(c.AllowedTeams) == 0 && len(c.AllowedKeys) == 0 {
		return true
	}
	if caller == nil {
		return false
	}
	if caller.TeamID != "" && slices.Contains(c.AllowedTeams, caller.TeamID) {
		return true
	}
	return (caller.KeyID != "" && slices.Contains(c.AllowedKeys, caller.KeyID)) ||
		(caller.KeyPrefix != "" && slices.Contains(c.AllowedKeys, caller.KeyPrefix))
}

// exposes reports whether the server's tool allow-list includes tool.
func (c *ServerConfig) exposes(tool string) bool {
	return len(c.Tools) == 0 || slices.Contains(c.Tools, tool)
}

// validateServers checks each server and that names are unique.
func validateServers(servers []ServerConfig) error {
	var errs []error
	seen := map[string]bool{}
	for i := range servers {
		s := &servers[i]
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("mcp server %d (%q): %w", i, s.Name, err))
		}
		if s.Name != "" && seen[s.Name] {
			errs = append(errs, fmt.Errorf("mcp server %d: name %q is used twice; names must be unique", i, s.Name))
		}
		seen[s.Name] = true
	}
	return errors.Join(errs...)
}
