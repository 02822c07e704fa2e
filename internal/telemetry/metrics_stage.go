package telemetry

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// unknownAlias labels calls for a model no pool serves: clients choose
// the model string, and letting them choose label values would let them
// grow the series without bound.
const unknownAlias = "unknown"

// stateAdmitted marks, in Call state, a call the in-flight gauge counted.
const stateAdmitted = "telemetry.metrics.admitted"

// codeClasses names status code classes without building strings per call.
var codeClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func codeClass(status int) string {
	if c := status / 100; c >= 1 && c <= 5 {
		return codeClasses[c]
	}
	return codeClasses[0]
}

// seriesKey is one combination of the per-call metrics' label values.
type seriesKey struct {
	alias, provider, deployment, region, class, frontDoor, team, key string
}

// series holds the children of every per-call metric for one seriesKey.
// Metrics with fewer labels share children between keys.
type series struct {
	requests                   prometheus.Counter
	duration                   prometheus.Observer
	ttft                       prometheus.Observer
	prompt, completion, cached prometheus.Counter
	attempts, failovers        prometheus.Counter
	cost                       prometheus.Counter // or nil
}

// seriesFor returns the children for c's labels with status class class.
func (m *Metrics) seriesFor(c *gateway.Call, class string) *series {
	k := seriesKey{alias: m.aliasLabel(c), class: class}
	if d := c.Deployment; d != nil {
		k.provider, k.deployment, k.region = d.Provider, d.Name, d.Region
	}
	if info := c.Info; info != nil {
		k.frontDoor = info.FrontDoor
		if caller := info.Caller; caller != nil {
			if m.opts.TeamLabel {
				k.team = caller.TeamID
			}
			if m.opts.KeyLabel {
				k.key = caller.KeyID
			}
		}
	}
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	return m.newSeries(k)
}

// newSeries builds and caches the children for k; the slow path, once per
// label combination.
func (m *Metrics) newSeries(k seriesKey) *series {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.series[k]; s != nil {
		return s
	}
	with := func(lvs ...string) []string {
		if m.opts.TeamLabel {
			lvs = append(lvs, k.team)
		}
		if m.opts.KeyLabel {
			lvs = append(lvs, k.key)
		}
		return lvs
	}
	tokens := func(kind string) prometheus.Counter {
		return m.tokens.WithLabelValues(with(k.alias, k.provider, k.deployment, kind)...)
	}
	s := &series{
		requests:   m.requests.WithLabelValues(with(k.alias, k.provider, k.deployment, k.region, k.class, k.frontDoor)...),
		duration:   m.duration.WithLabelValues(k.alias, k.provider, k.deployment, k.region, k.class),
		ttft:       m.ttft.WithLabelValues(k.alias, k.provider, k.deployment, k.region),
		prompt:     tokens(tokensPrompt),
		completion: tokens(tokensCompletion),
		cached:     tokens(tokensCached),
		attempts:   m.attempts.WithLabelValues(k.alias, k.provider, k.deployment),
		failovers:  m.failovers.WithLabelValues(k.alias, k.provider, k.deployment),
	}
	if m.cost != nil {
		s.cost = m.cost.WithLabelValues(with(k.alias, k.provider, k.deployment)...)
	}
	m.series[k] = s
	return s
}

// aliasLabel is c's alias if a pool serves it, else unknownAlias.
func (m *Metrics) aliasLabel(c *gateway.Call) string {
	if c.Deployment != nil {
		return c.Alias // the router found a pool for it
	}
	r := c.Router()
	if r == nil && m.opts.Router != nil {
		r = m.opts.Router()
	}
	if aliasKnown(r, c) {
		return c.Alias
	}
	return unknownAlias
}

// Stage returns the gateway stage that feeds the per-call metrics. Put it
// last in gateway.Options.Stages: its stream wrapper is then the outermost
// one, so time to first token is measured at the chunk the client gets.
func (m *Metrics) Stage() gateway.Stage { return metricsStage{m: m} }

type metricsStage struct{ m *Metrics }

func (metricsStage) Name() string { return "metrics" }

// Before counts the call in flight. Calls refused by an earlier stage and
// embeddings (which the gateway runs no before-stages for) are counted by
// After only.
func (s metricsStage) Before(_ context.Context, c *gateway.Call) error {
	s.m.inFlight.Inc()
	c.Set(stateAdmitted, true)
	return nil
}

// Stream measures time to first token at the chunk the client receives.
func (s metricsStage) Stream(_ context.Context, c *gateway.Call, st llm.ChatStream) llm.ChatStream {
	return &ttftStream{ChatStream: st, m: s.m, c: c}
}

// After records the finished call.
func (s metricsStage) After(_ context.Context, c *gateway.Call) {
	if c.Get(stateAdmitted) != nil {
		s.m.inFlight.Dec()
	}
	se := s.m.seriesFor(c, codeClass(c.Status()))
	se.requests.Inc()
	se.duration.Observe(time.Since(c.Start).Seconds())
	if u := c.Usage; u != nil {
		addPositive(se.prompt, u.PromptTokens)
		addPositive(se.completion, u.CompletionTokens)
		addPositive(se.cached, u.CachedTokens())
	}
	addPositive(se.attempts, c.Attempts)
	if c.Attempts > 1 {
		se.failovers.Inc()
	}
	if se.cost != nil {
		if usd, ok := s.m.opts.Cost(c); ok && usd > 0 {
			se.cost.Add(usd)
		}
	}
}

// addPositive adds n to c; counters panic on negative additions, and a
// provider reporting nonsense must not take the gateway down.
func addPositive(c prometheus.Counter, n int) {
	if n > 0 {
		c.Add(float64(n))
	}
}

// ttftStream observes the time to first token on the first chunk Next
// returns. Next is never called concurrently with itself, so first needs
// no lock.
type ttftStream struct {
	llm.ChatStream
	m     *Metrics
	c     *gateway.Call
	first bool
}

// Ready implements llm.ReadyStream.
func (s *ttftStream) Ready() bool { return llm.Ready(s.ChatStream) }

func (s *ttftStream) Next() (*llm.ChatChunk, error) {
	chunk, err := s.ChatStream.Next()
	if err == nil && !s.first {
		s.first = true
		// A stream that sent a chunk answered 200, whatever happens later.
		s.m.seriesFor(s.c, codeClasses[2]).ttft.Observe(time.Since(s.c.Start).Seconds())
	}
	return chunk, err
}

var (
	_ gateway.BeforeStage = metricsStage{}
	_ gateway.StreamStage = metricsStage{}
	_ gateway.AfterStage  = metricsStage{}
)
