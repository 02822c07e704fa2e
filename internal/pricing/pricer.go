package pricing

import (
	"fmt"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// MicroUSD is an amount of money in config files: written as decimal
// dollars ("5000" or "5000.00"), held as int64 micro-USD.
type MicroUSD int64

// UnmarshalYAML parses decimal dollars exactly.
func (m *MicroUSD) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseUSD(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*m = MicroUSD(v)
	return nil
}

// Config is the operator's pricing section: where contracts differ from
// list prices.
type Config struct {
	// Deployments sets the full price of a deployment by name, replacing
	// the catalog and any discount (a negotiated per-deployment price is
	// assumed final).
	Deployments map[string]Price `yaml:"deployments"`
	// Discounts takes a percentage off every catalog price of a provider,
	// e.g. {azure: 12.5}.
	Discounts map[string]Percent `yaml:"discounts"`
	// Commitments are prepaid monthly amounts; spend inside one costs
	// nothing more at the margin.
	Commitments []Commitment `yaml:"commitments"`
}

// Commitment is a prepaid monthly amount (calendar month, UTC) with a
// provider, or with one deployment of it.
type Commitment struct {
	Provider string `yaml:"provider"`
	// Deployment narrows the commitment to one deployment; empty covers
	// every deployment of Provider without its own commitment.
	Deployment string `yaml:"deployment"`
	// Monthly is the prepaid amount per calendar month.
	Monthly MicroUSD `yaml:"monthly"`
}

// Validate reports contradictory or incomplete settings.
func (c Config) Validate() error {
	seen := map[[2]string]bool{}
	for i, cm := range c.Commitments {
		if cm.Provider == "" {
			return fmt.Errorf("pricing.commitments[%d]: provider is required", i)
		}
		if cm.Monthly <= 0 {
			return fmt.Errorf("pricing.commitments[%d]: monthly must be a positive dollar amount", i)
		}
		k := [2]string{cm.Provider, cm.Deployment}
		if seen[k] {
			return fmt.Errorf("pricing.commitments[%d]: a commitment for provider %q deployment %q is already defined", i, cm.Provider, cm.Deployment)
		}
		seen[k] = true
	}
	for name, p := range c.Deployments {
		if p.Input == 0 && p.Output == 0 {
			return fmt.Errorf("pricing.deployments.%s: set input and output prices (USD per million tokens)", name)
		}
	}
	return nil
}

// Deployment identifies what is being priced.
type Deployment struct {
	// Name is the operator's deployment name, the key of per-deployment
	// overrides and commitments.
	Name     string
	Provider string
	Model    string
	Region   string
}

// Pricer prices deployments from a catalog plus overrides, and meters
// commitment spend. It is safe for concurrent use.
type Pricer struct {
	catalog     *Catalog
	deployments map[string]Price
	discounts   map[string]Percent
	byProvider  map[string]*meter
	byDeploy    map[string]*meter
	// prices memoises Price: every call prices its deployment two or three
	// times, and a catalog lookup scans every entry of the provider with
	// glob matching. Keys are the configured deployments, a bounded set.
	prices sync.Map // Deployment -> pricedAs
}

type pricedAs struct {
	price Price
	ok    bool
}

// meter tracks the spend of one commitment in the current month.
type meter struct {
	monthly int64
	mu      sync.Mutex
	month   time.Time // guarded by mu
	used    int64     // guarded by mu
}

// New returns a Pricer; a nil catalog means DefaultCatalog.
func New(c *Catalog, cfg Config) (*Pricer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if c == nil {
		c = DefaultCatalog()
	}
	p := &Pricer{
		catalog:     c,
		deployments: map[string]Price{},
		discounts:   map[string]Percent{},
		byProvider:  map[string]*meter{},
		byDeploy:    map[string]*meter{},
	}
	for k, v := range cfg.Deployments {
		p.deployments[k] = v
	}
	for k, v := range cfg.Discounts {
		p.discounts[k] = v
	}
	for _, cm := range cfg.Commitments {
		m := &meter{monthly: int64(cm.Monthly)}
		if cm.Deployment == "" {
			p.byProvider[cm.Provider] = m
		} else {
			p.byDeploy[cm.Deployment] = m
		}
	}
	return p, nil
}

// Catalog returns the catalog prices come from.
func (p *Pricer) Catalog() *Catalog { return p.catalog }

// Price returns d's price: the per-deployment override if any, else the
// catalog price less the provider's discount. ok is false when neither
// knows the model; the caller decides whether an unpriced model may run.
func (p *Pricer) Price(d Deployment) (Price, bool) {
	if v, ok := p.prices.Load(d); ok {
		r := v.(pricedAs)
		return r.price, r.ok
	}
	price, ok := p.price(d)
	p.prices.Store(d, pricedAs{price, ok})
	return price, ok
}

func (p *Pricer) price(d Deployment) (Price, bool) {
	if v, ok := p.deployments[d.Name]; ok && d.Name != "" {
		return v, true
	}
	v, ok := p.catalog.Lookup(d.Provider, d.Model, d.Region)
	if !ok {
		return Price{}, false
	}
	if disc := p.discounts[d.Provider]; disc > 0 {
		v = Price{
			Input:       applyDiscount(v.Input, disc),
			Output:      applyDiscount(v.Output, disc),
			CachedInput: applyDiscount(v.CachedInput, disc),
			CacheWrite:  applyDiscount(v.CacheWrite, disc),
		}
	}
	return v, true
}

func (p *Pricer) meterFor(d Deployment) *meter {
	if m, ok := p.byDeploy[d.Name]; ok && d.Name != "" {
		return m
	}
	return p.byProvider[d.Provider]
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// usedLocked returns the spend of the month containing at, starting the
// month afresh when it has rolled over.
func (m *meter) usedLocked(at time.Time) int64 {
	if ms := monthStart(at); !ms.Equal(m.month) {
		m.month, m.used = ms, 0
	}
	return m.used
}

// Record charges cost, spent at time at, to d's commitment, if it has one.
// Each replica meters its own spend; call SetCommitmentUsed with the
// durable total to share it.
func (p *Pricer) Record(d Deployment, cost int64, at time.Time) {
	m := p.meterFor(d)
	if m == nil || cost <= 0 {
		return
	}
	m.mu.Lock()
	m.usedLocked(at)
	m.used += cost
	m.mu.Unlock()
}

// SetCommitmentUsed replaces the spend of d's commitment for the month
// containing at, e.g. with the total from durable usage.
func (p *Pricer) SetCommitmentUsed(d Deployment, at time.Time, used int64) {
	m := p.meterFor(d)
	if m == nil {
		return
	}
	m.mu.Lock()
	m.usedLocked(at)
	m.used = max(used, 0)
	m.mu.Unlock()
}

// CommitmentStatus reports d's commitment: the prepaid monthly amount and
// how much of it is used in the month containing at. ok is false when d
// has no commitment.
func (p *Pricer) CommitmentStatus(d Deployment, at time.Time) (monthly, used int64, ok bool) {
	m := p.meterFor(d)
	if m == nil {
		return 0, 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.monthly, m.usedLocked(at), true
}

// EffectiveMarginalCost is what a request of list cost cost would add to
// the bill if sent to d at time at: the part that does not fit in d's
// remaining prepaid commitment. A cost-based router compares it across
// deployments so that prepaid capacity is used before paying extra.
func (p *Pricer) EffectiveMarginalCost(d Deployment, cost int64, at time.Time) int64 {
	monthly, used, ok := p.CommitmentStatus(d, at)
	if !ok {
		return cost
	}
	remaining := max(monthly-used, 0)
	return max(cost-remaining, 0)
}
