// Package config is Switchyard's typed configuration: the YAML file's
// shape, its loading (with ${ENV} and ${file:...} references expanded) and
// its validation, whose errors name the field and the line.
package config

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/route"
	"github.com/switchyard/switchyard/internal/telemetry"
)

// Config is the whole gateway configuration.
type Config struct {
	Server Server `yaml:"server"`
	Store  Store  `yaml:"store"`
	Redis  Redis  `yaml:"redis"`
	Admin  Admin  `yaml:"admin"`
	// Keys are virtual keys created in the store at start-up if absent,
	// for bootstrapping; production keys are created with the admin API.
	Keys []StaticKey `yaml:"keys"`
	// Deployments are the upstream model endpoints, one per cloud, region
	// and model.
	Deployments []Deployment `yaml:"deployments"`
	// Models are the aliases clients send as `model`, each a pool of
	// deployments with a routing strategy.
	Models []route.PoolConfig `yaml:"models"`

	// Telemetry configures Prometheus metrics and OpenTelemetry traces.
	Telemetry Telemetry `yaml:"telemetry"`
	// Health configures active health probes of the deployments.
	Health Health `yaml:"health"`

	Governance `yaml:",inline"`
	Guardrails `yaml:",inline"`
}

// Health configures active probes. Passive health (breakers fed by live
// traffic) is always on; probes also find a recovered deployment without
// risking a client request on it.
type Health struct {
	// ProbeInterval is how often each deployment is sent a one-token
	// request (an embedding for embedding deployments). Default 0: off,
	// since every probe is a billed call.
	ProbeInterval time.Duration `yaml:"probe_interval"`
}

// Telemetry configures metrics (always served at /metrics) and traces
// (exported over OTLP/HTTP when tracing.endpoint is set).
type Telemetry struct {
	Metrics telemetry.MetricsOptions `yaml:"metrics"`
	Tracing telemetry.TracingOptions `yaml:"tracing"`
}

// Server configures the HTTP listener.
type Server struct {
	// Listen is the address to serve on. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// MaxBodyBytes caps request bodies; larger ones get 413. Default 10 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// DrainTimeout bounds how long shutdown waits for in-flight requests
	// and streams. Default 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// ReadHeaderTimeout bounds how long a client may take to send headers.
	// Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// UpstreamTimeout bounds one upstream attempt, until response headers.
	// Default 60s.
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	// DebugListen, when set, serves Go's profiler (/debug/pprof/) on its
	// own address — keep it on loopback or a private interface. Default off.
	DebugListen string `yaml:"debug_listen"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`
}

// Store configures persistence.
type Store struct {
	// DSN is "sqlite://path/to/file.db" (default "sqlite://data/switchyard.db")
	// or a "postgres://" URL.
	DSN string `yaml:"dsn"`
	// FailOpen keeps serving cached keys when the store is unreachable;
	// false answers unknown keys with 503 instead. Default true.
	FailOpen *bool `yaml:"fail_open"`
}

// Redis configures shared counters for several replicas.
type Redis struct {
	// URL is a redis:// URL; empty keeps counters in memory (one replica).
	URL string `yaml:"url"`
	// FailOpen falls back to local counters when Redis is unreachable;
	// false answers 503 instead. Default true.
	FailOpen *bool `yaml:"fail_open"`
}

// Admin configures the admin API.
type Admin struct {
	// BootstrapToken grants the admin role; use ${file:...} or ${ENV}.
	// Empty disables token access (SSO only, or no admin API access).
	BootstrapToken string `yaml:"bootstrap_token"`
	// OIDC enables single sign-on for admins: ID or access tokens from
	// the issuer, with a claim mapped to roles and teams. Nil disables it.
	OIDC *admin.OIDCConfig `yaml:"oidc"`
}

// StaticKey is a virtual key bootstrapped from the config file.
type StaticKey struct {
	Name string `yaml:"name"`
	// Secret is the key itself ("sk-sy-..."); use ${ENV} or ${file:...}.
	Secret string `yaml:"secret"`
	// Models lists the aliases the key may use; empty means all.
	Models []string `yaml:"models"`
	// Regions limits the regions requests may go to (globs); empty means any.
	Regions []string `yaml:"regions"`
	// Providers limits the providers requests may go to; empty means any.
	Providers []string `yaml:"providers"`
	// AllowRouteOverride lets the key pick a routing strategy per request.
	AllowRouteOverride bool `yaml:"allow_route_override"`
	// RPM and TPM limit the key's requests and tokens per minute; 0 means
	// no limit.
	RPM int `yaml:"rpm"`
	TPM int `yaml:"tpm"`
}

// Deployment is one upstream model endpoint.
type Deployment struct {
	// Name identifies the deployment in pools, headers, logs and metrics.
	Name string `yaml:"name"`
	// Provider is a registered adapter: openai, azure, openai-compatible,
	// bedrock, vertex, anthropic.
	Provider string `yaml:"provider"`
	// Model is the provider-native model id (the Azure deployment name).
	Model string `yaml:"model"`
	// ModelVersion is the exact version served, e.g. "2024-08-06"; pinned
	// requests only go to deployments of their version.
	ModelVersion string `yaml:"model_version"`
	// Region is where the deployment runs, e.g. "westeurope".
	Region string `yaml:"region"`
	// Price is USD per million tokens; default from the price catalog.
	Price route.Price `yaml:"price"`
	// Quota is the provider's rate limit for this deployment.
	Quota route.Quota `yaml:"quota"`
	// Capabilities say what requests the deployment can serve.
	Capabilities route.Caps `yaml:"capabilities"`
	// ZDR marks a zero-data-retention deployment.
	ZDR bool `yaml:"zdr"`
	// Reserved marks provisioned capacity, used before pay-as-you-go.
	Reserved bool `yaml:"reserved"`
	// Weight is the share of traffic under the weighted strategy. Default 1.
	Weight int `yaml:"weight"`
	// Priority is the failover tier; lower is tried first. Default 0.
	Priority int `yaml:"priority"`
	// Options is the provider's own settings, checked against its type.
	Options yaml.Node `yaml:"options"`

	// options is Options decoded into the provider's options type.
	options any
}

// ProviderOptions returns the decoded, validated provider options.
func (d *Deployment) ProviderOptions() any { return d.options }

// Defaults for unset fields.
const (
	DefaultListen    = "127.0.0.1:8080"
	DefaultStoreDSN  = "sqlite://data/switchyard.db"
	defaultDrain     = 30 * time.Second
	defaultReadHdr   = 10 * time.Second
	defaultUpstream  = 60 * time.Second
	defaultMaxBody   = 10 << 20
	defaultLogLevel  = "info"
	maxConfigSize    = 4 << 20
	defaultDeployWgt = 1
)

// Errors is every problem found in a config file, each naming its line.
type Errors []error

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads, expands, decodes and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, ParseOptions{})
}

// ParseOptions overrides the environment Parse reads references from.
type ParseOptions struct {
	// LookupEnv defaults to os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// ReadFile defaults to os.ReadFile.
	ReadFile func(string) ([]byte, error)
}

// Parse decodes and validates a config document.
func Parse(data []byte, opts ParseOptions) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, Errors{fmt.Errorf("config is larger than %d bytes", maxConfigSize)}
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = osLookup
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{fmt.Errorf("not valid YAML: %w", err)}
	}
	var errs Errors
	errs = append(errs, expand(&root, opts.LookupEnv, opts.ReadFile)...)
	errs = append(errs, unknownFields(&root, reflect.TypeFor[Config](), "")...)
	cfg := &Config{}
	if root.Kind != 0 {
		if err := root.Decode(cfg); err != nil {
			// Without a decoded config there is nothing to validate.
			return nil, append(errs, typeErrors(&root, err)...)
		}
	}
	cfg.applyDefaults()
	if verrs := cfg.validate(); len(verrs) > 0 || len(errs) > 0 {
		for _, ve := range verrs {
			if ve.err != nil {
				errs = append(errs, ve.err)
				continue
			}
			errs = append(errs, fmt.Errorf("line %d: %s: %s", lineOf(&root, ve.path), ve.path, ve.msg))
		}
		return nil, errs
	}
	return cfg, nil
}

func (c *Config) applyDefaults() {
	s := &c.Server
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = defaultMaxBody
	}
	if s.DrainTimeout == 0 {
		s.DrainTimeout = defaultDrain
	}
	if s.ReadHeaderTimeout == 0 {
		s.ReadHeaderTimeout = defaultReadHdr
	}
	if s.UpstreamTimeout == 0 {
		s.UpstreamTimeout = defaultUpstream
	}
	if s.LogLevel == "" {
		s.LogLevel = defaultLogLevel
	}
	if c.Store.DSN == "" {
		c.Store.DSN = DefaultStoreDSN
	}
	for i := range c.Deployments {
		if c.Deployments[i].Weight == 0 {
			c.Deployments[i].Weight = defaultDeployWgt
		}
	}
}

// StoreFailOpen reports the store's failure mode (default open).
func (c *Config) StoreFailOpen() bool { return c.Store.FailOpen == nil || *c.Store.FailOpen }

// RedisFailOpen reports Redis's failure mode (default open).
func (c *Config) RedisFailOpen() bool { return c.Redis.FailOpen == nil || *c.Redis.FailOpen }

type fieldError struct {
	path string
	msg  string
	// err, when set, already names its line and field.
	err error
}

func (c *Config) validate() []fieldError {
	var errs []fieldError
	add := func(path, format string, args ...any) {
		errs = append(errs, fieldError{path: path, msg: fmt.Sprintf(format, args...)})
	}
	switch c.Server.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("server.log_level", "must be debug, info, warn or error, not %q", c.Server.LogLevel)
	}
	if c.Health.ProbeInterval < 0 || (c.Health.ProbeInterval > 0 && c.Health.ProbeInterval < time.Second) {
		add("health.probe_interval", "must be 0 (off) or at least 1s")
	}
	if c.Server.MaxBodyBytes < 0 {
		add("server.max_body_bytes", "must be positive")
	}
	if !strings.HasPrefix(c.Store.DSN, "sqlite://") && !strings.HasPrefix(c.Store.DSN, "postgres://") && !strings.HasPrefix(c.Store.DSN, "postgresql://") {
		add("store.dsn", "must start with sqlite:// or postgres://")
	}
	if c.Redis.URL != "" && !strings.HasPrefix(c.Redis.URL, "redis://") && !strings.HasPrefix(c.Redis.URL, "rediss://") {
		add("redis.url", "must start with redis:// or rediss://")
	}
	for i, k := range c.Keys {
		p := fmt.Sprintf("keys[%d]", i)
		if k.Name == "" {
			add(p+".name", "is required")
		}
		if k.RPM < 0 || k.TPM < 0 {
			add(p+".rpm", "rpm and tpm must not be negative (0 means no limit)")
		}
		if !validKeySecret(k.Secret) {
			add(p+".secret", "must be a Switchyard key: \"sk-sy-\" followed by 40 letters and digits (create one with `switchyard keys create`)")
		}
	}
	if c.Admin.BootstrapToken != "" && len(c.Admin.BootstrapToken) < 24 {
		add("admin.bootstrap_token", "is too short to be a secret; use at least 24 random characters")
	}
	if c.Admin.OIDC != nil {
		if err := c.Admin.OIDC.Validate(); err != nil {
			add("admin.oidc", "%v", err)
		}
	}
	if err := c.Telemetry.Tracing.Validate(); err != nil {
		add("telemetry.tracing", "%v", err)
	}
	c.validateGovernance(add)
	c.validateGuardrails(add)
	names := map[string]bool{}
	for i := range c.Deployments {
		d := &c.Deployments[i]
		p := fmt.Sprintf("deployments[%d]", i)
		switch {
		case d.Name == "":
			add(p+".name", "is required")
		case names[d.Name]:
			add(p+".name", "%q is used by another deployment", d.Name)
		}
		names[d.Name] = true
		if d.Model == "" {
			add(p+".model", "is required (the provider's model id or Azure deployment name)")
		}
		if d.Region == "" {
			add(p+".region", "is required: routing by residency needs every deployment's region")
		}
		if d.Weight < 0 {
			add(p+".weight", "must not be negative")
		}
		f, ok := provider.Lookup(d.Provider)
		if !ok {
			add(p+".provider", "unknown provider %q; known: %s", d.Provider, strings.Join(provider.Names(), ", "))
			continue
		}
		opts, lineErrs, err := decodeOptions(&d.Options, f, p+".options")
		for _, le := range lineErrs {
			errs = append(errs, fieldError{err: le})
		}
		if err != nil {
			add(p+".options", "%v", err)
		}
		d.options = opts
	}
	aliases := map[string]bool{}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		if aliases[m.Alias] {
			add(p+".alias", "%q is defined twice", m.Alias)
		}
		aliases[m.Alias] = true
		if err := m.Validate(); err != nil {
			add(p, "%v", err)
		}
		for j, name := range m.Deployments {
			if !names[name] {
				add(fmt.Sprintf("%s.deployments[%d]", p, j), "no deployment named %q", name)
			}
		}
	}
	return errs
}

// validKeySecret reports whether s has the shape of a Switchyard key.
func validKeySecret(s string) bool {
	rest, ok := strings.CutPrefix(s, "sk-sy-")
	if !ok || len(rest) != 40 {
		return false
	}
	for _, c := range rest {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// decodeOptions decodes a deployment's options block into the provider's
// options type, rejecting unknown fields (lineErrs, each naming its line),
// and validates it (err).
func decodeOptions(n *yaml.Node, f provider.Factory, path string) (opts any, lineErrs []error, err error) {
	opts = f.NewOptions()
	if n.Kind != 0 {
		if errs := unknownFields(n, reflect.TypeOf(opts), path); len(errs) > 0 {
			return nil, errs, nil
		}
		if err := n.Decode(opts); err != nil {
			return nil, typeErrors(n, err), nil
		}
	}
	if v, ok := opts.(provider.Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, nil, err
		}
	}
	return opts, nil, nil
}

// Aliases returns the configured model aliases, sorted.
func (c *Config) Aliases() []string {
	out := make([]string, 0, len(c.Models))
	for _, m := range c.Models {
		out = append(out, m.Alias)
	}
	sort.Strings(out)
	return out
}
