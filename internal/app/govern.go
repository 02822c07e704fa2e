package app

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchyard/switchyard/internal/audit"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/govern"
	"github.com/switchyard/switchyard/internal/pricing"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/usage"
)

// governanceOf returns g's spend governance, or nil before Build made it.
func governanceOf(g *Gateway) *govern.Governance { return g.gov }

// governStore lets tests put a slow or failing store in front of the
// governance writers; production uses the gateway's store as it is.
var governStore = func(s store.Store) store.Store { return s }

// redisTimeout bounds one Redis command: a rate-limit check is on every
// request's path, so an unreachable Redis must fail fast into the
// configured failure mode rather than hold requests.
const redisTimeout = 500 * time.Millisecond

// buildGovernance returns the identity-scoped spend stages: admission
// stages (rate limits) run before the guardrails, accounting stages
// (budgets, usage and audit records) after them. Closers go on g.closers.
func buildGovernance(ctx context.Context, g *Gateway) (admission, accounting []gateway.Stage, err error) {
	cfg := g.cfg
	keyPath, generated := cfg.AuditSigningKeyPath()
	src := govern.KeyFromFile
	if generated {
		src = govern.KeyGenerated
	}
	signer, err := govern.LoadSigningKey(keyPath, src)
	if err != nil {
		return nil, nil, err
	}
	var rdb *redis.Client
	if cfg.Redis.URL != "" {
		opt, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("redis.url: %w", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		opt.MaxRetries = 1
		if opt.Protocol == 0 { // the URL did not choose
			// RESP2: the counters need no server push, and RESP3's push
			// handling costs a socket peek on every command.
			opt.Protocol = 2
		}
		rdb = redis.NewClient(opt)
		g.closers = append(g.closers, rdb.Close)
	}
	prices := map[string]pricing.Price{}
	for _, d := range cfg.Deployments {
		if p, ok := govern.FromRoutePrice(d.Price); ok {
			prices[d.Name] = p
		}
	}
	usageOpts := usage.Options{
		SpillPath: cfg.UsageSpillPath(), QueueSize: cfg.Usage.QueueSize,
		BatchSize: cfg.Usage.BatchSize, FlushInterval: cfg.Usage.FlushInterval,
	}
	// The audit writer queues like the usage writer, to its own spill file,
	// and flushes halfway between the usage writer's flushes: the two
	// writes then never burden the CPU at the same moment.
	auditQueue := usageOpts
	auditQueue.SpillPath, auditQueue.Phase = cfg.AuditSpillPath(), usageOpts.Interval()/2
	opts := govern.Options{
		Store: governStore(g.store), StoreFailOpen: cfg.StoreFailOpen(),
		RedisPrefix: cfg.RedisPrefix(), RedisFailOpen: cfg.RedisFailOpen(), Lease: cfg.CounterLease(),
		Pricing: cfg.Pricing, DeploymentPrices: prices, TeamLimits: cfg.RateLimits.Teams,
		Usage: usageOpts,
		Audit: audit.Options{
			CheckpointEvery: cfg.Audit.CheckpointEvery, CheckpointInterval: cfg.Audit.CheckpointInterval,
			Queue: auditQueue,
		},
		Signer: signer, IncludeContent: cfg.Audit.IncludeContent, ContentOrgs: cfg.Audit.ContentOrgs, Retention: cfg.Audit.Retention,
		BudgetCacheTTL: cfg.BudgetCacheTTL(), ReservationTTL: cfg.Budgets.ReservationTTL,
		AlertWebhook: cfg.Budgets.AlertWebhook, HTTPClient: g.client, Logger: g.log,
	}
	if rdb != nil {
		opts.Redis = rdb
	}
	gov, err := govern.New(opts)
	if err != nil {
		return nil, nil, err
	}
	g.gov = gov
	// Closers run in reverse: the writers drain before the store closes.
	g.closers = append(g.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return gov.Close(ctx)
	})
	return gov.Admission(), gov.Accounting(), nil
}
