package route

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Clock tells the router the time. Tests pass a fake one; latency,
// breaker intervals, quota minutes and backoff waits all follow it.
type Clock interface {
	Now() time.Time
	// After is time.After under this clock.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// CostFunc returns what sending a request of about estInputTokens and
// estOutputTokens to d would cost, in any unit as long as it is the same
// for every deployment. It is called on the request path, concurrently.
type CostFunc func(d *Deployment, estInputTokens, estOutputTokens int) float64

// Options configures a Router. Every field is optional.
type Options struct {
	// Clock is real time when nil.
	Clock Clock
	// Rand drives weighted choices, jitter and exploration; it must be
	// safe for concurrent use. Nil means the runtime's generator.
	Rand rand.Source
	// CostFunc prices a request on a deployment for the cost strategy; the
	// gateway provides one so that commitments and prepaid capacity count
	// as cheaper until used up. Nil means list price (Deployment.Price).
	CostFunc CostFunc
	// OnBreakerChange is told of every breaker transition, for logs and
	// metrics. It is called with the deployment's breaker locked: it must
	// return quickly and must not call back into the Router. Or nil.
	OnBreakerChange func(BreakerEvent)
	// Previous is the router this one replaces on a config reload, or nil.
	// Deployments keeping their name, provider, model, region and version
	// keep their live state (breaker, latency, quota counters).
	Previous *Router
}

// Router routes requests for model aliases to deployments. It is safe for
// concurrent use and immutable after New: a config reload builds a new
// Router (passing the old one as Options.Previous) and swaps it in.
type Router struct {
	opts    Options
	clock   Clock
	rnd     *rand.Rand
	cost    CostFunc
	deps    []*Deployment // config order
	pools   map[string]*pool
	aliases []string // sorted
}

// pool is one alias's deployments; immutable after New.
type pool struct {
	cfg  PoolConfig // defaults applied
	deps []*Deployment
	// version is the one version every deployment serves, or "".
	version string
}

type runtimeSource struct{}

func (runtimeSource) Uint64() uint64 { return rand.Uint64() }

// New builds a Router over deployments and the pools that use them.
func New(deployments []*Deployment, pools []PoolConfig, opts Options) (*Router, error) {
	r := &Router{opts: opts, clock: opts.Clock, cost: opts.CostFunc, pools: map[string]*pool{}}
	if r.clock == nil {
		r.clock = realClock{}
	}
	src := opts.Rand
	if src == nil {
		src = runtimeSource{}
	}
	r.rnd = rand.New(src)
	if r.cost == nil {
		r.cost = listPrice
	}
	byName := make(map[string]*Deployment, len(deployments))
	for i, d := range deployments {
		switch {
		case d == nil:
			return nil, fmt.Errorf("route: deployments[%d] is nil", i)
		case d.Name == "":
			return nil, fmt.Errorf("route: deployments[%d] has no name", i)
		case byName[d.Name] != nil:
			return nil, fmt.Errorf("route: deployment %q is defined twice", d.Name)
		case d.Weight < 0:
			return nil, fmt.Errorf("route: deployment %q: weight must not be negative", d.Name)
		}
		byName[d.Name] = d
	}
	breakerCfg := map[string]BreakerConfig{}
	for i := range pools {
		pc := pools[i]
		if err := pc.Validate(); err != nil {
			return nil, fmt.Errorf("route: model %q: %w", pc.Alias, err)
		}
		if r.pools[pc.Alias] != nil {
			return nil, fmt.Errorf("route: model %q is defined twice", pc.Alias)
		}
		p := &pool{cfg: pc.withDefaults()}
		versions := map[string]bool{}
		for _, name := range pc.Deployments {
			d := byName[name]
			if d == nil {
				return nil, fmt.Errorf("route: model %q: no deployment named %q", pc.Alias, name)
			}
			if _, ok := breakerCfg[name]; !ok {
				breakerCfg[name] = p.cfg.Breaker
			}
			p.deps = append(p.deps, d)
			versions[d.ModelVersion] = true
		}
		if len(versions) == 1 {
			p.version = p.deps[0].ModelVersion
		}
		r.pools[pc.Alias] = p
		r.aliases = append(r.aliases, pc.Alias)
	}
	sort.Strings(r.aliases)
	prev := map[string]*Deployment{}
	if opts.Previous != nil {
		for _, d := range opts.Previous.deps {
			prev[d.Name] = d
		}
	}
	for _, d := range deployments {
		cfg, ok := breakerCfg[d.Name]
		if !ok {
			cfg = BreakerConfig{}.withDefaults()
		}
		if old := prev[d.Name]; old != nil && old.st != nil && sameDeployment(old, d) {
			d.st = old.st
			d.st.brk.cfg.Store(&cfg)
			d.st.brk.notify.Store(&opts.OnBreakerChange)
		} else {
			d.st = newState(d, r.clock, cfg, opts.OnBreakerChange)
		}
		r.deps = append(r.deps, d)
	}
	return r, nil
}

func sameDeployment(a, b *Deployment) bool {
	return a.Provider == b.Provider && a.Model == b.Model && a.Region == b.Region && a.ModelVersion == b.ModelVersion
}

// listPrice is the default CostFunc. Cached input is not estimated: a
// request's cache hits are unknown before it is sent.
func listPrice(d *Deployment, in, out int) float64 {
	return (float64(in)*d.Price.InputPerMTok + float64(out)*d.Price.OutputPerMTok) / 1e6
}

// ParseModel splits a client's model into alias and pinned version:
// "gpt-5@2025-08-07" is ("gpt-5", "2025-08-07"), "gpt-5" is ("gpt-5", "").
// It splits at the last "@". If the whole string is itself a configured
// alias (Vertex-style ids such as "claude-x@20240620"), Do finds it anyway.
func ParseModel(model string) (alias, version string) {
	i := strings.LastIndexByte(model, '@')
	if i <= 0 || i == len(model)-1 {
		return model, ""
	}
	return model[:i], model[i+1:]
}

// Aliases returns the configured model aliases, sorted.
func (r *Router) Aliases() []string {
	return append([]string(nil), r.aliases...)
}

// Pool returns the deployments of alias in config order, or nil if the
// alias is unknown. The slice is a copy; the Deployments are shared.
func (r *Router) Pool(alias string) []*Deployment {
	p := r.pools[alias]
	if p == nil {
		return nil
	}
	return append([]*Deployment(nil), p.deps...)
}

// PoolConfig returns alias's settings with defaults applied.
func (r *Router) PoolConfig(alias string) (PoolConfig, bool) {
	p := r.pools[alias]
	if p == nil {
		return PoolConfig{}, false
	}
	return p.cfg, true
}

// PinnedVersion returns the one version every deployment of alias serves,
// or "" when they differ or the alias is unknown.
func (r *Router) PinnedVersion(alias string) string {
	if p := r.pools[alias]; p != nil {
		return p.version
	}
	return ""
}

// DeploymentStatus is a deployment's live state, for admin pages,
// readiness and metrics.
type DeploymentStatus struct {
	Name         string `json:"name"`
	Provider     string `json:"provider"`
	Model        string `json:"model"`
	Region       string `json:"region"`
	ModelVersion string `json:"model_version"`
	// Breaker is "closed", "open" or "half-open".
	Breaker string `json:"breaker"`
	// Healthy is true while the breaker is closed.
	Healthy bool `json:"healthy"`
	// Saturated is true while the router steers traffic away for quota,
	// throttling or the in-flight cap.
	Saturated bool `json:"saturated"`
	// InFlight counts attempts and open streams.
	InFlight int `json:"in_flight"`
	// TTFTMillis and TotalMillis are the latency averages; 0 before the
	// first sample.
	TTFTMillis  float64 `json:"ttft_ms"`
	TotalMillis float64 `json:"total_ms"`
	// RequestsThisMinute and TokensThisMinute count live traffic in the
	// current clock minute; RPM and TPM are the configured quota (0 unknown).
	RequestsThisMinute int `json:"requests_this_minute"`
	TokensThisMinute   int `json:"tokens_this_minute"`
	RPM                int `json:"rpm"`
	TPM                int `json:"tpm"`
	// RemainingRequests and RemainingTokens are what the provider last
	// reported, or -1.
	RemainingRequests int `json:"remaining_requests"`
	RemainingTokens   int `json:"remaining_tokens"`
	// LastError describes the deployment's last failure, or "".
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Status returns every deployment's live state, in config order.
func (r *Router) Status() []DeploymentStatus {
	now := r.clock.Now().UnixNano()
	out := make([]DeploymentStatus, 0, len(r.deps))
	for _, d := range r.deps {
		s := d.st
		s.rollMinute(now)
		st := DeploymentStatus{
			Name: d.Name, Provider: d.Provider, Model: d.Model, Region: d.Region, ModelVersion: d.ModelVersion,
			Breaker:            s.brk.State().String(),
			Healthy:            s.brk.State() == BreakerClosed,
			Saturated:          d.saturated(now, 0),
			InFlight:           int(s.inflight.Load() + s.streaming.Load()),
			RequestsThisMinute: int(s.reqs.Load()),
			TokensThisMinute:   int(s.toks.Load()),
			RPM:                d.Quota.RPM,
			TPM:                d.Quota.TPM,
			RemainingRequests:  int(s.remReq.Load()),
			RemainingTokens:    int(s.remTok.Load()),
		}
		if v, _, ok := s.ttft.value(); ok {
			st.TTFTMillis = v / 1e6
		}
		if v, _, ok := s.total.value(); ok {
			st.TotalMillis = v / 1e6
		}
		if e := s.lastErr.Load(); e != nil {
			st.LastError, st.LastErrorAt = e.msg, e.at
		}
		out = append(out, st)
	}
	return out
}
