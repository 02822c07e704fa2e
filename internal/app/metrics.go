package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/internal/govern"
	"github.com/switchyard/switchyard/internal/usage"
)

// registerWriterMetrics exports the usage and audit writers' counters:
// an operator must see spilling (the store falling behind) and replay
// (catching up) before anything is at risk.
func registerWriterMetrics(reg *prometheus.Registry, gov *govern.Governance) {
	for _, w := range []struct {
		name  string
		stats func() usage.Stats
	}{
		{"usage", func() usage.Stats { return gov.Stats().Usage }},
		{"audit", func() usage.Stats { return gov.Stats().Audit }},
	} {
		for _, c := range []struct {
			name, help string
			value      func(usage.Stats) int64
		}{
			{"enqueued", "Records accepted by the writer.", func(s usage.Stats) int64 { return s.Enqueued }},
			{"written", "Records written to the store from the queue.", func(s usage.Stats) int64 { return s.Written }},
			{"spilled", "Records spilled to the local file because the store fell behind.", func(s usage.Stats) int64 { return s.Spilled }},
			{"replayed", "Records written to the store from the spill file.", func(s usage.Stats) int64 { return s.Replayed }},
			{"failed", "Records in failed store writes (each retry counts).", func(s usage.Stats) int64 { return s.Failed }},
		} {
			stats, value := w.stats, c.value
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace:   "switchyard",
				Subsystem:   "records",
				Name:        c.name + "_total",
				Help:        c.help,
				ConstLabels: prometheus.Labels{"writer": w.name},
			}, func() float64 { return float64(value(stats())) }))
		}
	}
}

// registerCounterMetrics exports where rate-limit and budget decisions
// were made, with Redis: on this replica's leases or by a round trip. An
// operator sees from the ratio whether leases are doing their work, and
// from a rising round-trip rate that a limit is near.
func registerCounterMetrics(reg *prometheus.Registry, gov *govern.Governance) {
	if _, ok := gov.CounterDecisions(); !ok {
		return
	}
	for _, c := range []struct {
		counter, where string
		value          func(govern.CounterDecisions) int64
	}{
		{"rate_limit", "lease", func(d govern.CounterDecisions) int64 { return d.RateLimit.Leased }},
		{"rate_limit", "redis", func(d govern.CounterDecisions) int64 { return d.RateLimit.Shared }},
		{"budget", "lease", func(d govern.CounterDecisions) int64 { return d.Budget.Leased }},
		{"budget", "redis", func(d govern.CounterDecisions) int64 { return d.Budget.Shared }},
	} {
		value := c.value
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace:   "switchyard",
			Subsystem:   "counters",
			Name:        "decisions_total",
			Help:        "Rate-limit checks and budget reservations, by where they were decided: on this replica's lease or by a round trip to Redis.",
			ConstLabels: prometheus.Labels{"counter": c.counter, "where": c.where},
		}, func() float64 {
			d, _ := gov.CounterDecisions()
			return float64(value(d))
		}))
	}
}
