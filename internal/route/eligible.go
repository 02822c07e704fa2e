package route

import (
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// Requirements are what a request needs from the deployment that answers
// it. The gateway derives them from the request and the caller's key.
type Requirements struct {
	// Tools, Vision, JSONSchema and Embeddings require the capability.
	Tools, Vision, JSONSchema, Embeddings bool
	// Stream marks a streamed request: it is never hedged, and its
	// latency is the time to first token.
	Stream bool
	// EstimatedInputTokens and MaxOutputTokens (0 = unset) size the
	// request, for context limits, quota and cost.
	EstimatedInputTokens, MaxOutputTokens int
	// PinnedVersion restricts the request to deployments of exactly this
	// ModelVersion, on failover too; "" means any.
	PinnedVersion string
	// AllowedRegions are globs ("eu-*", "europe-*", "westeurope"), matched
	// case-insensitively against Deployment.Region; empty means any. A
	// deployment without a region matches no glob.
	AllowedRegions []string
	// AllowedProviders are provider names; empty means any.
	AllowedProviders []string
	// RequireZDR restricts the request to zero-data-retention deployments.
	RequireZDR bool
	// Strategy overrides the pool's strategy; the gateway has checked the
	// caller may. "" keeps the pool's.
	Strategy string
}

// defaultOutputEstimate sizes a request's answer when it sets no limit.
const defaultOutputEstimate = 512

func (q *Requirements) estOutput() int {
	if q.MaxOutputTokens > 0 {
		return q.MaxOutputTokens
	}
	return defaultOutputEstimate
}

func (q *Requirements) estTotal() int { return q.EstimatedInputTokens + q.estOutput() }

// narrowing records which of the request's restrictions excluded part of
// the pool, so that a failure can say the allowed part has no healthy
// deployment rather than pass on one deployment's error as the model's.
type narrowing struct {
	constraints string // the caller's residency restrictions, or ""
	version     string // the pinned version, when other versions exist
}

func (n narrowing) any() bool { return n.constraints != "" || n.version != "" }

// eligible returns the deployments of p that may serve q, or the error
// that tells the client why none may. Filters apply in this order:
// version, then residency (regions, providers, ZDR), then capabilities;
// the error names the first filter that left nothing.
func (p *pool) eligible(alias string, q *Requirements) ([]*Deployment, narrowing, error) {
	c := p.deps
	var narrowed narrowing
	if q.PinnedVersion == "" && len(q.AllowedRegions) == 0 && len(q.AllowedProviders) == 0 && !q.RequireZDR &&
		!q.Tools && !q.Vision && !q.JSONSchema && !q.Embeddings && !p.hasContextLimit() {
		return c, narrowed, nil // common case: no copy
	}
	if v := q.PinnedVersion; v != "" {
		c = filter(c, func(d *Deployment) bool { return d.ModelVersion == v })
		if len(c) == 0 {
			return nil, narrowed, llm.Errorf(http.StatusNotFound,
				"model %q has no version %q; available versions: %s; send %q to use the current one",
				alias, v, strings.Join(p.versions(), ", "), alias).WithCode("model_version_not_found")
		}
		if len(c) < len(p.deps) {
			narrowed.version = v
		}
	}
	before := len(c)
	var constraints []string
	if len(q.AllowedRegions) > 0 {
		desc := "regions " + strings.Join(q.AllowedRegions, ", ")
		constraints = append(constraints, desc)
		c = filter(c, func(d *Deployment) bool { return regionAllowed(d.Region, q.AllowedRegions) })
		if len(c) == 0 {
			return nil, narrowed, residencyError(alias, "in the "+desc+" your key allows")
		}
	}
	if len(q.AllowedProviders) > 0 {
		desc := "providers " + strings.Join(q.AllowedProviders, ", ")
		constraints = append(constraints, desc)
		c = filter(c, func(d *Deployment) bool { return providerAllowed(d.Provider, q.AllowedProviders) })
		if len(c) == 0 {
			return nil, narrowed, residencyError(alias, "from the "+desc+" your key allows"+alsoIn(constraints[:len(constraints)-1]))
		}
	}
	if q.RequireZDR {
		constraints = append(constraints, "zero data retention")
		c = filter(c, func(d *Deployment) bool { return d.ZDR })
		if len(c) == 0 {
			return nil, narrowed, residencyError(alias, "with zero data retention, which your key requires"+alsoIn(constraints[:len(constraints)-1]))
		}
	}
	if len(c) < before {
		narrowed.constraints = strings.Join(constraints, "; ")
	}
	for _, cp := range capabilities {
		if !cp.needed(q) {
			continue
		}
		c = filter(c, cp.has)
		if len(c) == 0 {
			return nil, narrowed, cp.err(alias, narrowed.constraints != "")
		}
	}
	if need := q.EstimatedInputTokens + q.MaxOutputTokens; need > 0 {
		largest := 0
		for _, d := range c {
			largest = max(largest, d.Caps.MaxContext)
		}
		fits := filter(c, func(d *Deployment) bool { return d.Caps.MaxContext == 0 || d.Caps.MaxContext >= need })
		if len(fits) == 0 {
			e := llm.BadRequest("messages",
				"this request needs about %d tokens (input estimate plus max tokens) but model %q holds at most %d; shorten the conversation or lower max_tokens",
				need, alias, largest)
			return nil, narrowed, e.WithCode("context_length_exceeded")
		}
		c = fits
	}
	return c, narrowed, nil
}

func (p *pool) hasContextLimit() bool {
	for _, d := range p.deps {
		if d.Caps.MaxContext > 0 {
			return true
		}
	}
	return false
}

func (p *pool) versions() []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range p.deps {
		if d.ModelVersion != "" && !seen[d.ModelVersion] {
			seen[d.ModelVersion] = true
			out = append(out, d.ModelVersion)
		}
	}
	if len(out) == 0 {
		return []string{"(none declared)"}
	}
	return out
}

func alsoIn(earlier []string) string {
	if len(earlier) == 0 {
		return ""
	}
	return " (among those in " + strings.Join(earlier, "; ") + ")"
}

func residencyError(alias, where string) *llm.Error {
	return llm.Errorf(http.StatusForbidden,
		"model %q has no deployment %s; the request was not sent anywhere else. Ask an administrator to add such a deployment or to change your key's restrictions",
		alias, where).WithCode("residency_violation")
}

// regionAllowed matches region against globs, case-insensitively. A
// malformed glob matches nothing: a residency rule fails closed.
func regionAllowed(region string, globs []string) bool {
	if region == "" {
		return false
	}
	region = strings.ToLower(region)
	for _, g := range globs {
		if ok, err := path.Match(strings.ToLower(g), region); ok && err == nil {
			return true
		}
	}
	return false
}

func providerAllowed(name string, allowed []string) bool {
	for _, a := range allowed {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

func filter(ds []*Deployment, keep func(*Deployment) bool) []*Deployment {
	out := make([]*Deployment, 0, len(ds))
	for _, d := range ds {
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// capability is one thing a request may need from a deployment.
type capability struct {
	name, param string
	needed      func(*Requirements) bool
	has         func(*Deployment) bool
	hint        string
}

var capabilities = []capability{
	{name: "tools", param: "tools", hint: "remove tools and tool messages or choose another model",
		needed: func(q *Requirements) bool { return q.Tools }, has: func(d *Deployment) bool { return d.Caps.Tools }},
	{name: "image input (vision)", param: "messages", hint: "remove the images or choose a vision model",
		needed: func(q *Requirements) bool { return q.Vision }, has: func(d *Deployment) bool { return d.Caps.Vision }},
	{name: "json_schema response formats", param: "response_format", hint: "use response_format json_object or choose another model",
		needed: func(q *Requirements) bool { return q.JSONSchema }, has: func(d *Deployment) bool { return d.Caps.JSONSchema }},
	{name: "embeddings", param: "model", hint: "choose an embeddings model (GET /v1/models lists them)",
		needed: func(q *Requirements) bool { return q.Embeddings }, has: func(d *Deployment) bool { return d.Caps.Embeddings }},
}

func (c capability) err(alias string, narrowed bool) *llm.Error {
	which := ""
	if narrowed {
		which = " that your key may use"
	}
	e := llm.BadRequest(c.param, "model %q cannot serve this request: none of its deployments%s supports %s; %s",
		alias, which, c.name, c.hint)
	return e.WithCode("unsupported_capability")
}

// describe explains, for a 503, which deployments were considered.
func (n narrowing) describe(alias string) []string {
	var out []string
	if n.constraints != "" {
		out = append(out, "none of the deployments allowed by your key ("+n.constraints+") is healthy, and deployments outside those restrictions are never used for your requests")
	}
	if n.version != "" {
		out = append(out, fmt.Sprintf("a pinned request is never served by another version; send %q to allow any version", alias))
	}
	return out
}
