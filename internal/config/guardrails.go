package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/dlp"
	"github.com/switchyard/switchyard/internal/mcpgw"
	"github.com/switchyard/switchyard/internal/policy"
)

// Guardrails configures agent governance: DLP, policies, tool permissions,
// approvals and the MCP gateway. Its fields sit at the top level of the
// config file.
type Guardrails struct {
	// DLP scans prompts, tool calls, tool results and answers; nil (no
	// `dlp:` section) turns it off.
	DLP *DLP `yaml:"dlp"`
	// Policies are CEL rules on requests and tools, compiled at load.
	Policies policy.Set `yaml:"policies"`
	// Approvals configures how require_approval holds tool calls.
	Approvals Approvals `yaml:"approvals"`
	// MCP is the MCP gateway at /mcp; no servers turns it off.
	MCP MCP `yaml:"mcp"`

	engine *policy.Engine // compiled Policies, set by validateGuardrails
}

// DLP is the `dlp:` section: the detectors and their actions, per-key and
// per-team action overrides, and an optional external DLP service.
type DLP struct {
	dlp.Config `yaml:",inline"`
	// Overrides change actions for one team or key: keys are "team:<id>"
	// or "key:<id>", values map detector names to actions. A key's
	// override replaces its team's (they are not merged).
	Overrides map[string]map[string]dlp.Action `yaml:"overrides"`
	// Hook asks an external DLP service too; or nil.
	Hook *dlp.HookConfig `yaml:"hook"`
}

// MCP is the `mcp:` section.
type MCP struct {
	// Servers are the upstream MCP servers whose tools /mcp exposes,
	// namespaced as "<server>.<tool>" for policies.
	Servers []mcpgw.ServerConfig `yaml:"servers"`
}

// Approval modes.
const (
	// ApprovalWait holds the client's request until a person decides or
	// the approval times out.
	ApprovalWait = "wait"
	// ApprovalAsync answers at once that the approval is pending; the
	// client resubmits with x-switchyard-approval-id.
	ApprovalAsync = "async"
)

// Approvals is the `approvals:` section.
type Approvals struct {
	// Timeout is how long an approval stays open. Default 5m.
	Timeout time.Duration `yaml:"timeout"`
	// Mode is wait (default) or async.
	Mode string `yaml:"mode"`
	// PollInterval is how often a waiting request re-reads the store, so
	// that a decision taken on another replica releases it. Default 1s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// WebhookURL receives the pending approval as JSON; or "".
	WebhookURL string `yaml:"webhook_url"`
	// SlackWebhookURL receives a Slack-compatible {"text": ...}; or "".
	SlackWebhookURL string `yaml:"slack_webhook_url"`
}

// Defaults for the approvals section.
const (
	DefaultApprovalTimeout = 5 * time.Minute
	DefaultApprovalPoll    = time.Second
)

// PolicyEngine returns the compiled policies (never nil once the config
// has been parsed: an empty set allows everything).
func (g *Guardrails) PolicyEngine() *policy.Engine { return g.engine }

// validateGuardrails checks the guardrail settings and compiles the
// policies, so that a rule that does not compile stops the load naming the
// rule and its line.
func (c *Config) validateGuardrails(add func(path, format string, args ...any)) {
	g := &c.Guardrails
	if d := g.DLP; d != nil {
		sc, err := dlp.New(d.Config)
		if err != nil {
			add("dlp", "%v", err)
		} else {
			for who, actions := range d.Overrides {
				kind, id, ok := strings.Cut(who, ":")
				if !ok || id == "" || (kind != "team" && kind != "key") {
					add("dlp.overrides."+who, "name a team or key as \"team:<id>\" or \"key:<id>\"")
					continue
				}
				if _, err := sc.WithActions(actions); err != nil {
					add("dlp.overrides."+who, "%v", err)
				}
			}
		}
		if h := d.Hook; h != nil && !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
			add("dlp.hook.url", "must be an http:// or https:// URL")
		}
	}
	a := &g.Approvals
	if a.Timeout == 0 {
		a.Timeout = DefaultApprovalTimeout
	}
	if a.PollInterval == 0 {
		a.PollInterval = DefaultApprovalPoll
	}
	if a.Mode == "" {
		a.Mode = ApprovalWait
	}
	if a.Timeout < 0 {
		add("approvals.timeout", "must be positive")
	}
	if a.PollInterval < 0 {
		add("approvals.poll_interval", "must be positive")
	}
	if a.Mode != ApprovalWait && a.Mode != ApprovalAsync {
		add("approvals.mode", "must be wait or async, not %q", a.Mode)
	}
	for _, u := range []struct{ path, url string }{{"approvals.webhook_url", a.WebhookURL}, {"approvals.slack_webhook_url", a.SlackWebhookURL}} {
		if u.url != "" && !strings.HasPrefix(u.url, "http://") && !strings.HasPrefix(u.url, "https://") {
			add(u.path, "must be an http:// or https:// URL")
		}
	}
	c.compilePolicies(add)
}

// compilePolicies compiles each rule alone first, so an error points at
// its line, then the whole set (duplicate names, tool policy).
func (c *Config) compilePolicies(add func(path, format string, args ...any)) {
	set := c.Guardrails.Policies
	aliases := map[string]bool{}
	for _, m := range c.Models {
		aliases[m.Alias] = true
	}
	failed := false
	for i, r := range set.Rules {
		p := fmt.Sprintf("policies.rules[%d]", i)
		if _, err := policy.Compile([]policy.Rule{r}); err != nil {
			add(p, "%v", err)
			failed = true
			continue
		}
		if r.Effect == policy.EffectRoute && !aliases[r.Pool] {
			add(p+".pool", "rule %q routes to %q, which is not a model alias defined under models", r.Name, r.Pool)
			failed = true
		}
	}
	if failed {
		return
	}
	e, err := policy.CompileSet(set)
	if err != nil {
		add("policies", "%v", err)
		return
	}
	c.Guardrails.engine = e
}
