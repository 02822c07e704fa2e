package govern

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchyard/switchyard/internal/audit"
	"github.com/switchyard/switchyard/internal/budget"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/pricing"
	"github.com/switchyard/switchyard/internal/ratelimit"
	"github.com/switchyard/switchyard/internal/redisbatch"
	"github.com/switchyard/switchyard/internal/route"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/usage"
)

// Options configures New.
type Options struct {
	// Store holds budgets, usage and the audit chain. Required.
	Store store.Store
	// StoreFailOpen lets calls through unbudgeted when budget definitions
	// or spend cannot be read; false refuses them with 503.
	StoreFailOpen bool
	// Redis shares rate-limit and budget counters between replicas; nil
	// keeps them in this process. New installs a redisbatch hook on it
	// for the settlements that run after each call.
	Redis redis.UniversalClient
	// RedisPrefix starts every counter key. Default "switchyard:".
	RedisPrefix string
	// Lease is how much of the shared counters in Redis each replica
	// takes ahead of its requests: a span of each rate limit's refill
	// (ratelimit.RedisOptions.Lease), and how often leased budget writes
	// its spend (budget.Options.Lease). Zero or negative turns leasing
	// off: every request then asks Redis.
	Lease time.Duration
	// RedisFailOpen falls back to this node's counters when Redis is
	// unreachable; false refuses calls with 503.
	RedisFailOpen bool
	// Pricing is the operator's pricing section.
	Pricing pricing.Config
	// DeploymentPrices are deployments' own configured prices.
	DeploymentPrices map[string]pricing.Price
	// TeamLimits are team-wide rate limits by team id.
	TeamLimits map[string]ratelimit.Limits
	// Usage configures the usage writer; SpillPath is required.
	Usage usage.Options
	// Audit configures the audit chain; Audit.Queue.SpillPath is required.
	Audit audit.Options
	// Signer signs audit checkpoints. Required.
	Signer ed25519.PrivateKey
	// IncludeContent keeps prompts and completions in audit records.
	IncludeContent bool
	// ContentOrgs keeps them only for these organisations' calls.
	ContentOrgs []string
	// Retention purges audit records older than this, hourly; 0 keeps all.
	Retention time.Duration
	// BudgetCacheTTL is how long budget definitions are cached. Default 5s.
	BudgetCacheTTL time.Duration
	// ReservationTTL bounds an unsettled reservation. Default 15m.
	ReservationTTL time.Duration
	// AlertWebhook receives soft-budget alerts of budgets without their own.
	AlertWebhook string
	// HTTPClient sends alerts. Default http.DefaultClient.
	HTTPClient *http.Client
	// Logger is non-nil.
	Logger *slog.Logger
}

// Governance is the running spend governance of one gateway: its stages
// and the writers and counters behind them. Close it after the gateway
// has stopped taking calls.
type Governance struct {
	tok      *Tokenizer
	prices   *Prices
	limiter  ratelimit.Limiter
	rate     *RateLimit
	budgets  *StoreBudgets
	counters *FallbackCounters // nil without Redis
	mgr      *budget.Manager
	usage    *usage.Batcher[store.UsageRecord]
	chain    *audit.Chain
	log      *AuditLog
	settle   *settler
	batch    *redisbatch.Batcher // nil without Redis

	admission, accounting []gateway.Stage

	stop      chan struct{}
	done      sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New builds the stages and starts the writers.
func New(o Options) (_ *Governance, err error) {
	if o.Store == nil || len(o.Signer) != ed25519.PrivateKeySize {
		return nil, errors.New("govern: Options.Store and an Ed25519 Options.Signer are required")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.BudgetCacheTTL <= 0 {
		o.BudgetCacheTTL = 5 * time.Second
	}
	if o.RedisPrefix == "" {
		o.RedisPrefix = "switchyard:"
	}
	pricer, err := pricing.New(nil, o.Pricing)
	if err != nil {
		return nil, fmt.Errorf("govern: %w", err)
	}
	g := &Governance{tok: NewTokenizer(log), stop: make(chan struct{})}
	defer func() {
		if err != nil {
			g.Close(context.Background())
		}
	}()
	g.prices = NewPrices(pricer, o.Pricing, o.DeploymentPrices, log)

	var counters budget.Store = budget.NewMemoryStore()
	var budgetLease time.Duration // in one process a lease would save nothing
	if o.Redis != nil {
		budgetLease = max(o.Lease, 0)
		g.batch = redisbatch.New(o.Redis, redisbatch.Options{})
		mode := ratelimit.FailClosed
		if o.RedisFailOpen {
			mode = ratelimit.FailOpen
		}
		g.limiter = ratelimit.NewRedis(o.Redis, ratelimit.RedisOptions{Prefix: o.RedisPrefix, OnFailure: mode, Logger: log, Lease: leaseOrOff(o.Lease)})
		g.counters = NewFallbackCounters(budget.NewRedisStore(o.Redis, budget.RedisOptions{Prefix: o.RedisPrefix}), o.RedisFailOpen, log)
		counters = g.counters
	} else {
		g.limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{})
	}
	g.budgets = NewStoreBudgets(o.Store, o.BudgetCacheTTL, o.StoreFailOpen, log)
	g.mgr, err = budget.NewManager(budget.Options{
		Source: g.budgets, Store: counters, Spend: StoreSpend{St: o.Store, FailOpen: o.StoreFailOpen},
		Notifier:       budget.NewWebhookNotifier(budget.WebhookOptions{DefaultURL: o.AlertWebhook, Client: o.HTTPClient}),
		ReservationTTL: o.ReservationTTL, Logger: log, Lease: budgetLease,
	})
	if err != nil {
		return nil, err
	}

	o.Usage.Logger, o.Audit.Logger = log, log
	if g.usage, err = usage.NewUsageWriter(o.Store, o.Usage); err != nil {
		return nil, err
	}
	if g.chain, err = audit.NewChain(o.Store, o.Signer, o.Audit); err != nil {
		return nil, err
	}
	pub := o.Signer.Public().(ed25519.PublicKey)
	g.log = &AuditLog{chain: g.chain, st: o.Store, pub: pub}
	log.Info("audit chain signing checkpoints", "public_key_id", audit.PublicKeyID(pub), "include_content", o.IncludeContent, "content_orgs", o.ContentOrgs)

	g.settle = &settler{async: o.Redis != nil}
	g.rate = NewRateLimit(g.limiter, o.TeamLimits, g.tok, log)
	g.rate.settle = g.settle
	bud := NewBudget(g.mgr, g.prices, g.tok, log)
	bud.settle = g.settle
	g.admission = []gateway.Stage{g.rate}
	g.accounting = []gateway.Stage{
		NewMeter(g.tok),
		bud,
		NewUsageRecorder(g.usage, g.prices, g.tok, log),
		NewAuditRecorder(g.chain, g.prices, g.tok, AuditRecorderOptions{IncludeContent: o.IncludeContent, ContentOrgs: o.ContentOrgs, Logger: log}),
	}
	// The tokenizer's vocabulary (~90 MB resident) loads on the first
	// answer that arrives without usage, not at start: adapters ask every
	// cloud for usage, so most gateways never need it.
	if o.Retention > 0 {
		g.done.Add(1)
		go g.purgeLoop(o.Store, pub, o.Retention, log)
	}
	return g, nil
}

// purgeInterval is how often audit retention is applied.
const purgeInterval = time.Hour

func (g *Governance) purgeLoop(st store.AuditStore, pub ed25519.PublicKey, retention time.Duration, log *slog.Logger) {
	defer g.done.Done()
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if res, err := audit.Purge(ctx, st, pub, time.Now().Add(-retention)); err != nil {
			log.Warn("audit retention: purge failed; will retry", "err", err)
		} else if res.Deleted > 0 {
			log.Info("audit retention: purged old records", "deleted", res.Deleted, "anchor_seq", res.AnchorSeq)
		}
		cancel()
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
	}
}

// Admission returns the stages to run before the guardrails: rate limits.
func (g *Governance) Admission() []gateway.Stage { return g.admission }

// Accounting returns the stages to run after the guardrails: the meter,
// budgets, usage and audit records.
func (g *Governance) Accounting() []gateway.Stage { return g.accounting }

// AdminAuditor returns the audit chain's adapter for the admin API: pass
// it as admin.Options.Audit, and its Verify as admin.Options.AuditVerify.
func AdminAuditor(g *Governance) *AuditLog { return g.log }

// CostUSD is what a finished call cost in US dollars, for the telemetry
// cost counter (telemetry.MetricsOptions.Cost); ok is false for calls
// that reached no deployment.
func (g *Governance) CostUSD(c *gateway.Call) (usd float64, ok bool) {
	if c.Deployment == nil {
		return 0, false
	}
	return float64(g.prices.Cost(c, g.tok)) / 1e6, true
}

// WriterStats are the usage and audit writers' counters.
type WriterStats struct {
	Usage, Audit usage.Stats
}

// Stats returns the writers' counters (spilled, replayed, failed, ...),
// for metrics.
func (g *Governance) Stats() WriterStats {
	return WriterStats{Usage: g.usage.Stats(), Audit: g.chain.Stats()}
}

// CounterDecisions is where the shared counters' decisions were made.
type CounterDecisions struct {
	RateLimit ratelimit.Decisions
	Budget    budget.Decisions
}

// CounterDecisions reports how many rate-limit and budget decisions this
// replica made on its leases and how many went to Redis; ok is false
// when the counters are this process's own (no Redis).
func (g *Governance) CounterDecisions() (d CounterDecisions, ok bool) {
	dc, ok := g.limiter.(ratelimit.DecisionCounter)
	if !ok {
		return d, false
	}
	return CounterDecisions{RateLimit: dc.Decisions(), Budget: g.mgr.Decisions()}, true
}

// Problems names what is degraded, for readiness: empty when healthy.
func (g *Governance) Problems() map[string]string {
	p := map[string]string{}
	if g.budgets.Degraded() {
		p["budgets"] = "enforcing cached budget definitions: the store is unreachable"
	}
	if g.rate.Degraded() {
		p["rate_limits"] = "Redis unreachable: rate limits are counted per replica"
	}
	if g.counters != nil && g.counters.Degraded() {
		p["budget_counters"] = "Redis unreachable: budget counters are this replica's own"
	}
	return p
}

// Flush waits for background budget and rate-limit settlements and writes
// every queued usage and audit record.
func (g *Governance) Flush(ctx context.Context) error {
	g.settle.wait()
	return errors.Join(g.usage.Flush(ctx), g.chain.Flush(ctx))
}

// Close writes what is queued, signs a last checkpoint and stops.
func (g *Governance) Close(ctx context.Context) error {
	g.closeOnce.Do(func() {
		close(g.stop)
		g.settle.wait()
		if g.batch != nil {
			g.batch.Close()
		}
		var errs []error
		if g.usage != nil {
			errs = append(errs, g.usage.Close(ctx))
		}
		if g.chain != nil {
			errs = append(errs, g.chain.Close(ctx))
		}
		if g.mgr != nil {
			errs = append(errs, g.mgr.Close())
		}
		g.done.Wait()
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

// RouteCost fits route.Options.CostFunc: a request's marginal cost on d in
// micro-USD, counting unspent commitments as already paid.
func (g *Governance) RouteCost(d *route.Deployment, inputTokens, outputTokens int) float64 {
	return float64(g.prices.RouteCost(d, inputTokens, outputTokens, time.Now()))
}

// leaseOrOff is d, or the negative that turns a Redis limiter's leases off
// (its zero means its default).
func leaseOrOff(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
