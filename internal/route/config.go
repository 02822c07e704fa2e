package route

import (
	"errors"
	"fmt"
	"time"
)

// Strategy names, as written in a pool's `strategy` and in per-request
// overrides.
const (
	// StrategyFailover sends to the lowest priority tier that has a usable
	// deployment; the next tier only takes traffic when the tier above is
	// unhealthy or over quota. Deployments of one tier share by weight.
	StrategyFailover = "failover"
	// StrategyWeighted shares traffic by weight among usable deployments.
	StrategyWeighted = "weighted"
	// StrategyLatency prefers the deployment expected to answer soonest,
	// from decaying averages of time to first token (streams) and total
	// time (other requests), with occasional trial traffic elsewhere.
	StrategyLatency = "latency"
	// StrategyCost prefers reserved (provisioned) deployments, then the
	// cheapest one for the request's estimated tokens.
	StrategyCost = "cost"
	// StrategyLeastBusy prefers the deployment with the fewest requests in
	// flight relative to its quota.
	StrategyLeastBusy = "least-busy"
)

// Strategies lists every strategy name, in the order documentation shows them.
var Strategies = []string{StrategyFailover, StrategyWeighted, StrategyLatency, StrategyCost, StrategyLeastBusy}

func knownStrategy(s string) bool {
	for _, k := range Strategies {
		if s == k {
			return true
		}
	}
	return false
}

// Defaults applied to zero fields of a PoolConfig.
const (
	DefaultStrategy         = StrategyFailover
	DefaultHedgeDelay       = 2 * time.Second
	DefaultFailureThreshold = 5
	DefaultFailureRatio     = 0.5
	DefaultMinRequests      = 20
	DefaultBreakerWindow    = 30 * time.Second
	DefaultOpenFor          = 30 * time.Second
	DefaultMaxAttempts      = 3
	DefaultBaseBackoff      = 200 * time.Millisecond
	DefaultMaxBackoff       = 5 * time.Second
	DefaultDeadline         = 180 * time.Second
)

// PoolConfig is one model alias and how requests for it are routed. The
// config package embeds it under `models:`.
type PoolConfig struct {
	// Alias is what clients send as `model`. An alias such as
	// "gpt-4o@2024-08-06" whose deployments all serve one version is a
	// pinned alias.
	Alias string `yaml:"alias"`
	// Strategy is failover, weighted, latency, cost or least-busy.
	// Default failover.
	Strategy string `yaml:"strategy"`
	// Deployments names the deployments that may answer, in priority
	// order for documentation only: failover uses each one's Priority.
	Deployments []string `yaml:"deployments"`
	// Hedge starts a second attempt when the first is slow.
	Hedge HedgeConfig `yaml:"hedge"`
	// Breaker stops sending to a deployment that keeps failing.
	Breaker BreakerConfig `yaml:"breaker"`
	// Retry bounds retries and failover within one request.
	Retry RetryConfig `yaml:"retry"`
}

// HedgeConfig configures hedged requests. Hedging applies to non-streamed
// requests only: a stream is committed once its first byte is sent.
type HedgeConfig struct {
	// Enabled turns hedging on. Default off: a hedge can double the cost
	// of a slow request, since both attempts are billed.
	Enabled bool `yaml:"enabled"`
	// Delay is how long the first attempt may go unanswered before a
	// second starts on another deployment. Default 2s.
	Delay time.Duration `yaml:"delay"`
}

// BreakerConfig configures the circuit breaker of each deployment in the
// pool. A deployment listed by several pools uses the settings of the
// first pool (in config order) that lists it.
type BreakerConfig struct {
	// FailureThreshold opens the breaker after this many consecutive
	// failures. Default 5.
	FailureThreshold int `yaml:"failure_threshold"`
	// FailureRatio also opens it when this share of the requests in one
	// Window failed, once MinRequests were seen. Default 0.5.
	FailureRatio float64 `yaml:"failure_ratio"`
	// MinRequests is the fewest requests in a Window for FailureRatio to
	// apply. Default 20.
	MinRequests int `yaml:"min_requests"`
	// Window is the period FailureRatio is measured over. Default 30s.
	Window time.Duration `yaml:"window"`
	// OpenFor is how long an open breaker refuses traffic before it
	// admits one trial request (half-open). It doubles each time the
	// breaker reopens without a healthy spell in between, up to
	// MaxOpenFor. Default 30s.
	OpenFor time.Duration `yaml:"open_for"`
	// MaxOpenFor caps OpenFor's doubling. Default 8 × OpenFor.
	MaxOpenFor time.Duration `yaml:"max_open_for"`
}

// RetryConfig bounds the attempts made for one request.
type RetryConfig struct {
	// MaxAttempts counts every attempt, failovers and hedges included.
	// Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// BaseBackoff is the wait before the first retry of a deployment that
	// already failed this request; it doubles per retry, with jitter.
	// Failing over to a deployment not yet tried does not wait. Default 200ms.
	BaseBackoff time.Duration `yaml:"base_backoff"`
	// MaxBackoff caps the wait between retries; a provider's Retry-After
	// may ask for longer and is honoured within Deadline. Default 5s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// Deadline bounds the whole request, every attempt and wait included;
	// it must exceed the longest answer expected. Default 180s.
	Deadline time.Duration `yaml:"deadline"`
}

// Validate reports every problem in the pool's settings; it does not
// check that the named deployments exist (New does).
func (c *PoolConfig) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Alias == "" {
		add("alias", "is required: it is the model name clients send")
	}
	if c.Strategy != "" && !knownStrategy(c.Strategy) {
		add("strategy", "unknown strategy %q; use one of %v", c.Strategy, Strategies)
	}
	if len(c.Deployments) == 0 {
		add("deployments", "list at least one deployment")
	}
	seen := map[string]bool{}
	for i, d := range c.Deployments {
		if d == "" {
			add(fmt.Sprintf("deployments[%d]", i), "is empty")
		}
		if seen[d] {
			add(fmt.Sprintf("deployments[%d]", i), "%q is listed twice", d)
		}
		seen[d] = true
	}
	if c.Hedge.Delay < 0 {
		add("hedge.delay", "must not be negative")
	}
	b := c.Breaker
	if b.FailureThreshold < 0 || b.MinRequests < 0 {
		add("breaker", "failure_threshold and min_requests must not be negative")
	}
	if b.FailureRatio < 0 || b.FailureRatio > 1 {
		add("breaker.failure_ratio", "must be between 0 and 1, got %v", b.FailureRatio)
	}
	if b.Window < 0 || b.OpenFor < 0 || b.MaxOpenFor < 0 {
		add("breaker", "window, open_for and max_open_for must not be negative")
	}
	if b.OpenFor > 0 && b.MaxOpenFor > 0 && b.MaxOpenFor < b.OpenFor {
		add("breaker.max_open_for", "(%v) must be at least open_for (%v)", b.MaxOpenFor, b.OpenFor)
	}
	r := c.Retry
	if r.MaxAttempts < 0 {
		add("retry.max_attempts", "must not be negative")
	}
	if r.BaseBackoff < 0 || r.MaxBackoff < 0 || r.Deadline < 0 {
		add("retry", "base_backoff, max_backoff and deadline must not be negative")
	}
	if r.BaseBackoff > 0 && r.MaxBackoff > 0 && r.MaxBackoff < r.BaseBackoff {
		add("retry.max_backoff", "(%v) must be at least base_backoff (%v)", r.MaxBackoff, r.BaseBackoff)
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field set to its default.
func (c PoolConfig) withDefaults() PoolConfig {
	if c.Strategy == "" {
		c.Strategy = DefaultStrategy
	}
	if c.Hedge.Delay == 0 {
		c.Hedge.Delay = DefaultHedgeDelay
	}
	c.Breaker = c.Breaker.withDefaults()
	r := &c.Retry
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.BaseBackoff == 0 {
		r.BaseBackoff = DefaultBaseBackoff
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = max(DefaultMaxBackoff, r.BaseBackoff)
	}
	if r.Deadline == 0 {
		r.Deadline = DefaultDeadline
	}
	return c
}

func (b BreakerConfig) withDefaults() BreakerConfig {
	if b.FailureThreshold == 0 {
		b.FailureThreshold = DefaultFailureThreshold
	}
	if b.FailureRatio == 0 {
		b.FailureRatio = DefaultFailureRatio
	}
	if b.MinRequests == 0 {
		b.MinRequests = DefaultMinRequests
	}
	if b.Window == 0 {
		b.Window = DefaultBreakerWindow
	}
	if b.OpenFor == 0 {
		b.OpenFor = DefaultOpenFor
	}
	if b.MaxOpenFor == 0 {
		b.MaxOpenFor = 8 * b.OpenFor
	}
	return b
}
