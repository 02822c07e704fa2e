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
