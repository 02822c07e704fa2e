package telemetry

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/route"
)

// namespace prefixes every metric this package defines.
const namespace = "switchyard"

// MetricsOptions configures NewMetrics. Every field is optional.
type MetricsOptions struct {
	// Router returns the router in use, read at every scrape so that a
	// config reload's new router is the one reported. Nil means no
	// per-deployment state (breaker, health, latency, quota) is exported.
	Router func() *route.Router `yaml:"-"`
	// Cost returns what a finished call cost in USD, and false when that
	// is unknown. Nil means the cost counter is not exported.
	Cost func(c *gateway.Call) (usd float64, ok bool) `yaml:"-"`
	// TeamLabel adds the caller's team id as a "team" label to the
	// request, token and cost counters. Off by default: every team
	// multiplies those series.
	TeamLabel bool `yaml:"team_label"`
	// KeyLabel adds the caller's virtual key id (never the secret) as a
	// "key" label to the request, token and cost counters. Off by
	// default: every key multiplies those series.
	KeyLabel bool `yaml:"key_label"`
	// DurationBuckets are the request-duration histogram's upper bounds in
	// seconds. Default DefaultDurationBuckets.
	DurationBuckets []float64 `yaml:"duration_buckets"`
	// TTFTBuckets are the time-to-first-token histogram's upper bounds in
	// seconds. Default DefaultTTFTBuckets.
	TTFTBuckets []float64 `yaml:"ttft_buckets"`
}

// DefaultDurationBuckets span a cached answer (5ms) to a long reasoning
// answer (120s), about doubling each step.
var DefaultDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120}

// DefaultTTFTBuckets are finer at the low end, where first tokens of
// healthy deployments land.
var DefaultTTFTBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30, 60}

// Metrics holds Switchyard's Prometheus metrics on a registry of its own,
// so that tests and embedded uses never collide on the global one. It is
// safe for concurrent use.
type Metrics struct {
	opts MetricsOptions
	reg  *prometheus.Registry

	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	ttft      *prometheus.HistogramVec
	tokens    *prometheus.CounterVec
	attempts  *prometheus.CounterVec
	failovers *prometheus.CounterVec
	cost      *prometheus.CounterVec // or nil
	inFlight  prometheus.Gauge

	// series caches each label combination's children, so the hot path
	// hashes one small key instead of building label slices per metric.
	mu     sync.RWMutex
	series map[seriesKey]*series // guarded by mu
}

// Label names shared by the per-call metrics.
const (
	labelAlias      = "alias"
	labelProvider   = "provider"
	labelDeployment = "deployment"
	labelRegion     = "region"
	labelClass      = "code_class"
	labelFrontDoor  = "front_door"
	labelKind       = "kind"
	labelTeam       = "team"
	labelKey        = "key"
)

// Token kinds of the tokens counter.
const (
	tokensPrompt     = "prompt"
	tokensCompletion = "completion"
	tokensCached     = "cached"
)

// NewMetrics returns metrics registered on a new registry, with the Go
// runtime and process collectors alongside.
func NewMetrics(opts MetricsOptions) *Metrics {
	if len(opts.DurationBuckets) == 0 {
		opts.DurationBuckets = DefaultDurationBuckets
	}
	if len(opts.TTFTBuckets) == 0 {
		opts.TTFTBuckets = DefaultTTFTBuckets
	}
	m := &Metrics{opts: opts, reg: prometheus.NewRegistry(), series: map[seriesKey]*series{}}
	var caller []string
	if opts.TeamLabel {
		caller = append(caller, labelTeam)
	}
	if opts.KeyLabel {
		caller = append(caller, labelKey)
	}
	with := func(labels ...string) []string { return append(labels, caller...) }

	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "requests_total",
		Help: "Model calls that finished, by alias, the deployment that answered (or was tried last), status code class and front door.",
	}, with(labelAlias, labelProvider, labelDeployment, labelRegion, labelClass, labelFrontDoor))
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "request_duration_seconds",
		Help:    "Time from the gateway taking a model call to its end (the last chunk, for streams).",
		Buckets: opts.DurationBuckets,
	}, []string{labelAlias, labelProvider, labelDeployment, labelRegion, labelClass})
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "time_to_first_token_seconds",
		Help:    "For streams, time from the gateway taking the call to the first chunk handed to the client.",
		Buckets: opts.TTFTBuckets,
	}, []string{labelAlias, labelProvider, labelDeployment, labelRegion})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "tokens_total",
		Help: "Tokens used by finished calls, by kind: prompt, completion, and cached (prompt tokens served from the provider's cache, a subset of prompt).",
	}, with(labelAlias, labelProvider, labelDeployment, labelKind))
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "upstream_attempts_total",
		Help: "Upstream attempts made for finished calls, retries, failovers and hedges included; by the deployment that answered.",
	}, []string{labelAlias, labelProvider, labelDeployment})
	m.failovers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "failovers_total",
		Help: "Calls that needed more than one upstream attempt; by the deployment that answered (or was tried last).",
	}, []string{labelAlias, labelProvider, labelDeployment})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "requests_in_flight",
		Help: "Chat calls admitted and not yet finished, open streams included.",
	})
	m.reg.MustRegister(m.requests, m.duration, m.ttft, m.tokens, m.attempts, m.failovers, m.inFlight)
	if opts.Cost != nil {
		m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cost_usd_total",
			Help: "What finished calls cost in US dollars, as priced by the gateway.",
		}, with(labelAlias, labelProvider, labelDeployment))
		m.reg.MustRegister(m.cost)
	}
	if opts.Router != nil {
		m.reg.MustRegister(newRouterCollector(opts.Router))
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry the metrics live on, for other packages
// to register their own collectors (the usage writer's spill and replay
// counters, for instance). Names should start with "switchyard_".
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats; mount
// it at GET /metrics. A collector that fails does not hide the others.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
	})
}
