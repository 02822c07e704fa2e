package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/pricing"
	"github.com/switchyard/switchyard/internal/ratelimit"
)

// Governance configures spend and records: pricing, usage and audit
// writers, budgets and rate limits. Its fields sit at the top level of
// the config file. Budget definitions themselves live in the store (the
// admin API manages them); per-key rate limits live on the keys.
type Governance struct {
	// Pricing is where contracts differ from the built-in list prices:
	// per-deployment prices, provider discounts, prepaid commitments. A
	// deployment's own `price:` is used when pricing.deployments does not
	// name it; otherwise the catalog price applies.
	Pricing pricing.Config `yaml:"pricing"`
	// Usage configures the usage-record writer.
	Usage UsageConfig `yaml:"usage"`
	// Audit configures the audit chain of model calls and admin actions.
	Audit AuditConfig `yaml:"audit"`
	// RateLimits adds team-wide limits to the keys' own RPM/TPM.
	RateLimits RateLimitsConfig `yaml:"rate_limits"`
	// Budgets tunes budget enforcement.
	Budgets BudgetsConfig `yaml:"budgets"`
	// Counters configures the shared counters kept in redis.url.
	Counters CountersConfig `yaml:"counters"`
}

// UsageConfig configures the usage-record writer: a bounded queue in
// front of the store that spills to a local file instead of blocking.
type UsageConfig struct {
	// SpillPath is the JSON Lines file records overflow to. Default
	// "usage-spill.jsonl" in the data folder (the SQLite file's folder,
	// or "data" with PostgreSQL).
	SpillPath string `yaml:"spill_path"`
	// QueueSize bounds the in-memory queue. Default 10000.
	QueueSize int `yaml:"queue_size"`
	// BatchSize is the most records written in one transaction. Default 500.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval writes a partial batch after this long. Default 200ms.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// AuditConfig configures the tamper-evident audit chain.
type AuditConfig struct {
	// SigningKeyFile holds the Ed25519 key that signs checkpoints: a
	// 32-byte seed (raw, hex or base64) or a PKCS#8 PEM private key.
	// Default: a key generated on first start and kept (mode 0600) as
	// "audit-signing.key" in the data folder.
	SigningKeyFile string `yaml:"signing_key_file"`
	// IncludeContent stores prompts and completions in every audit
	// record. Default false: records carry a SHA-256 digest of the
	// request only.
	IncludeContent bool `yaml:"include_content"`
	// ContentOrgs lists the organisations (ids) that opted in to keeping
	// prompts and completions in their audit records; the rest get the
	// digest only. Use either this or IncludeContent.
	ContentOrgs []string `yaml:"content_orgs"`
	// Retention deletes audit records older than this (down to the newest
	// signed checkpoint before the cut), checked hourly. Default 0: keep
	// everything.
	Retention time.Duration `yaml:"retention"`
	// CheckpointEvery signs a checkpoint after this many records.
	// Default 1000.
	CheckpointEvery int `yaml:"checkpoint_every"`
	// CheckpointInterval signs a checkpoint this often while the chain
	// grows. Default 1m.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// SpillPath is where audit records overflow to. Default
	// "audit-spill.jsonl" in the data folder.
	SpillPath string `yaml:"spill_path"`
}

// RateLimitsConfig holds limits that are not a key's own.
type RateLimitsConfig struct {
	// Teams maps a team id to the requests and tokens per minute all of
	// its keys share, e.g. {team_abc: {rpm: 600, tpm: 200000}}. A request
	// must fit both its key's limits and its team's. Teams can also carry
	// limits on their record (admin API, `switchyard teams update --rpm`);
	// where both set one, the tighter applies. Default: none.
	Teams map[string]ratelimit.Limits `yaml:"teams"`
}

// BudgetsConfig tunes budget enforcement; the budgets themselves are
// created with the admin API.
type BudgetsConfig struct {
	// AlertWebhook receives soft-budget alerts of budgets without their
	// own webhook. Default: none (such alerts are only logged).
	AlertWebhook string `yaml:"alert_webhook"`
	// CacheTTL is how long budget definitions are cached before the store
	// is asked again; a new or changed budget takes effect within it.
	// Default 5s.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// ReservationTTL is how long a reservation of a crashed replica keeps
	// holding budget; it must outlast the longest request. Default 15m.
	ReservationTTL time.Duration `yaml:"reservation_ttl"`
}

// CountersConfig configures shared counters.
type CountersConfig struct {
	// RedisPrefix starts every rate-limit and budget key in redis.url, so
	// several gateways can share one Redis. Replicas of one gateway must
	// use the same prefix. Default "switchyard:".
	RedisPrefix string `yaml:"redis_prefix"`
	// Lease is how much of the shared counters a replica takes from
	// Redis ahead of its requests, so that most requests are decided
	// without a round trip: a span of each rate limit's refill, and for
	// budgets a block of room (up to 1/64 of the limit) whose spend is
	// written this often. The replicas never admit more than a limit
	// together, and never spend past a hard budget; they may admit up to
	// one lease each less for a while (with the default 1s, 1/60 of a
	// per-minute limit per replica), and budget totals read through the
	// admin API lag by up to Lease. "-1s" turns leasing off: every
	// request asks Redis. Default 1s.
	Lease time.Duration `yaml:"lease"`
}

// Governance defaults.
const (
	DefaultUsageSpillFile  = "usage-spill.jsonl"
	DefaultAuditSpillFile  = "audit-spill.jsonl"
	DefaultAuditSigningKey = "audit-signing.key"
	DefaultRedisPrefix     = "switchyard:"
	DefaultCounterLease    = time.Second
	defaultBudgetCacheTTL  = 5 * time.Second
)

// DataDir is the folder for local state (spill files, the generated audit
// key): the SQLite database's folder, or "data" with PostgreSQL.
func (c *Config) DataDir() string {
	dsn := c.Store.DSN
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || dsn == "" {
		return "data"
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	return filepath.Dir(path)
}

// UsageSpillPath is usage.spill_path or its default.
func (c *Config) UsageSpillPath() string {
	if c.Usage.SpillPath != "" {
		return c.Usage.SpillPath
	}
	return filepath.Join(c.DataDir(), DefaultUsageSpillFile)
}

// AuditSpillPath is audit.spill_path or its default.
func (c *Config) AuditSpillPath() string {
	if c.Audit.SpillPath != "" {
		return c.Audit.SpillPath
	}
	return filepath.Join(c.DataDir(), DefaultAuditSpillFile)
}

// AuditSigningKeyPath is audit.signing_key_file, or the generated key's
// path in the data folder; generated reports the latter.
func (c *Config) AuditSigningKeyPath() (path string, generated bool) {
	if c.Audit.SigningKeyFile != "" {
		return c.Audit.SigningKeyFile, false
	}
	return filepath.Join(c.DataDir(), DefaultAuditSigningKey), true
}

// CounterLease is counters.lease or its default; negative means off.
func (c *Config) CounterLease() time.Duration {
	if c.Counters.Lease == 0 {
		return DefaultCounterLease
	}
	return c.Counters.Lease
}

// RedisPrefix is counters.redis_prefix or its default.
func (c *Config) RedisPrefix() string {
	if c.Counters.RedisPrefix != "" {
		return c.Counters.RedisPrefix
	}
	return DefaultRedisPrefix
}

// BudgetCacheTTL is budgets.cache_ttl or its default.
func (c *Config) BudgetCacheTTL() time.Duration {
	if c.Budgets.CacheTTL > 0 {
		return c.Budgets.CacheTTL
	}
	return defaultBudgetCacheTTL
}

// validateGovernance checks the governance settings.
func (c *Config) validateGovernance(add func(path, format string, args ...any)) {
	if err := c.Pricing.Validate(); err != nil {
		add("pricing", "%v", err)
	}
	u := c.Usage
	if u.QueueSize < 0 {
		add("usage.queue_size", "must not be negative (0 takes the default 10000)")
	}
	if u.BatchSize < 0 {
		add("usage.batch_size", "must not be negative (0 takes the default 500)")
	}
	if u.FlushInterval < 0 {
		add("usage.flush_interval", "must not be negative (0 takes the default 200ms)")
	}
	a := c.Audit
	if a.Retention < 0 {
		add("audit.retention", "must not be negative (0 keeps every record)")
	}
	if a.IncludeContent && len(a.ContentOrgs) > 0 {
		add("audit.content_orgs", "include_content: true already keeps content for every organisation; set one or the other")
	}
	for i, id := range a.ContentOrgs {
		if strings.TrimSpace(id) == "" {
			add(fmt.Sprintf("audit.content_orgs[%d]", i), "must be an organisation id, not empty")
		}
	}
	if a.CheckpointEvery < 0 {
		add("audit.checkpoint_every", "must not be negative (0 takes the default 1000)")
	}
	if a.CheckpointInterval < 0 {
		add("audit.checkpoint_interval", "must not be negative (0 takes the default 1m)")
	}
	for team, l := range c.RateLimits.Teams {
		if l.RPM < 0 || l.TPM < 0 {
			add("rate_limits.teams."+team, "rpm and tpm must not be negative (0 means unlimited)")
		}
	}
	if c.Counters.Lease > time.Minute {
		add("counters.lease", "must be at most 1m, a limit's whole minute (or negative to turn leasing off)")
	}
	b := c.Budgets
	if b.AlertWebhook != "" && !strings.HasPrefix(b.AlertWebhook, "http://") && !strings.HasPrefix(b.AlertWebhook, "https://") {
		add("budgets.alert_webhook", "must be an http:// or https:// URL")
	}
	if b.CacheTTL < 0 {
		add("budgets.cache_ttl", "must not be negative (0 takes the default 5s)")
	}
	if b.ReservationTTL < 0 {
		add("budgets.reservation_ttl", "must not be negative (0 takes the default 15m)")
	}
}
