package govern

import (
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/pricing"
	"github.com/switchyard/switchyard/internal/route"
)

// DefaultOutputReserve is the output a budget reservation assumes for a
// request that sets no max_tokens: a reservation must cover the most the
// answer can cost, and without a limit that is unknown. Clients that set
// max_tokens are held to exactly their limit.
const DefaultOutputReserve = 4096

// Prices prices deployments: pricing.deployments overrides first, then the
// deployment's own configured price, then the catalog less discounts.
// Unpriced deployments cost nothing (each is logged once).
type Prices struct {
	pricer *pricing.Pricer
	// configured are deployments' own `price:` settings, used when
	// pricing.deployments does not name them.
	configured map[string]pricing.Price
	overrides  map[string]bool
	log        *slog.Logger
	warned     sync.Map // deployment name -> struct{}
}

// NewPrices returns Prices over p. configured holds the deployments' own
// prices (see FromRoutePrice); cfg is the same pricing.Config p was made
// from, to tell its overrides apart.
func NewPrices(p *pricing.Pricer, cfg pricing.Config, configured map[string]pricing.Price, log *slog.Logger) *Prices {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ov := map[string]bool{}
	for name := range cfg.Deployments {
		ov[name] = true
	}
	return &Prices{pricer: p, configured: configured, overrides: ov, log: log}
}

// FromRoutePrice converts a deployment's configured price (USD per million
// tokens, as floats) to micro-USD per million tokens; ok is false when the
// deployment sets none.
func FromRoutePrice(p route.Price) (pricing.Price, bool) {
	if p.InputPerMTok == 0 && p.OutputPerMTok == 0 && p.CachedInputPerMTok == 0 {
		return pricing.Price{}, false
	}
	micro := func(usd float64) int64 { return int64(usd*1e6 + 0.5) }
	return pricing.Price{Input: micro(p.InputPerMTok), Output: micro(p.OutputPerMTok), CachedInput: micro(p.CachedInputPerMTok)}, true
}

// Of returns d's price.
func (p *Prices) Of(d *route.Deployment) (pricing.Price, bool) {
	if !p.overrides[d.Name] {
		if v, ok := p.configured[d.Name]; ok {
			return v, true
		}
	}
	v, ok := p.pricer.Price(pricing.Deployment{Name: d.Name, Provider: d.Provider, Model: d.Model, Region: d.Region})
	if !ok {
		if _, seen := p.warned.LoadOrStore(d.Name, struct{}{}); !seen {
			p.log.Warn("govern: no price for deployment; its calls count as free against budgets", "deployment", d.Name, "provider", d.Provider, "model", d.Model,
				"fix", "set pricing.deployments."+d.Name+" or the deployment's price")
		}
	}
	return v, ok
}

// MaxCost is the most c can cost: its estimated prompt and its output
// allowance at the price of the dearest deployment that may serve it.
func (p *Prices) MaxCost(c *gateway.Call) int64 {
	out := c.Requirements.MaxOutputTokens
	if out <= 0 {
		out = DefaultOutputReserve
	}
	in := c.Requirements.EstimatedInputTokens
	var most int64
	if c.Router() == nil {
		return 0
	}
	for _, d := range eligible(c.Router().Pool(c.Alias), &c.Requirements) {
		if price, ok := p.Of(d); ok {
			most = max(most, pricing.MaxCost(in, out, price))
		}
	}
	return most
}

// Cost is what c cost at the price of the deployment that answered, in
// micro-USD; computed once per call.
func (p *Prices) Cost(c *gateway.Call, tok *Tokenizer) int64 {
	if v, ok := c.Get(keyCost).(int64); ok {
		return v
	}
	var cost int64
	if d := c.Deployment; d != nil {
		u := UsageOf(c, tok)
		if price, ok := p.Of(d); ok && u.TotalTokens+u.PromptTokens+u.CompletionTokens > 0 {
			cost = pricing.Cost(&u.Usage, price)
			p.pricer.Record(pricing.Deployment{Name: d.Name, Provider: d.Provider, Model: d.Model, Region: d.Region}, cost, c.Start)
		}
	}
	c.Set(keyCost, cost)
	return cost
}

// eligible narrows a pool the way the router will (version, residency,
// capabilities), so a reservation is priced on deployments that may
// actually answer. When nothing is left the router refuses the call
// anyway, and the whole pool is priced.
func eligible(pool []*route.Deployment, q *route.Requirements) []*route.Deployment {
	out := make([]*route.Deployment, 0, len(pool))
	for _, d := range pool {
		switch {
		case q.PinnedVersion != "" && d.ModelVersion != q.PinnedVersion,
			len(q.AllowedRegions) > 0 && !matchesAny(d.Region, q.AllowedRegions),
			len(q.AllowedProviders) > 0 && !containsFold(q.AllowedProviders, d.Provider),
			q.RequireZDR && !d.ZDR,
			q.Tools && !d.Caps.Tools, q.Vision && !d.Caps.Vision,
			q.JSONSchema && !d.Caps.JSONSchema, q.Embeddings && !d.Caps.Embeddings:
			continue
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return pool
	}
	return out
}

func matchesAny(region string, globs []string) bool {
	region = strings.ToLower(region)
	for _, g := range globs {
		if ok, err := path.Match(strings.ToLower(g), region); ok && err == nil && region != "" {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// RouteCost is what a request of the given size would add to the bill on
// d, in micro-USD, for the router's cost strategy: list price (catalog,
// discounts, overrides) less what still fits in d's prepaid monthly
// commitment, so that prepaid capacity is used before paying extra.
// Unpriced deployments cost 0.
func (p *Prices) RouteCost(d *route.Deployment, inputTokens, outputTokens int, at time.Time) int64 {
	price, ok := p.Of(d)
	if !ok {
		return 0
	}
	cost := pricing.CostOf(pricing.Tokens{Input: int64(inputTokens), Output: int64(outputTokens)}, price)
	return p.pricer.EffectiveMarginalCost(pricing.Deployment{Name: d.Name, Provider: d.Provider, Model: d.Model, Region: d.Region}, cost, at)
}
