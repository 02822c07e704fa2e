package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchyard/switchyard/internal/route"
)

// routerCollector reports the router's live per-deployment state at
// scrape time. Reading Status then costs the hot path nothing.
type routerCollector struct {
	router func() *route.Router

	breaker, healthy, saturated, inFlight *prometheus.Desc
	latency                               *prometheus.Desc
	minuteUse, quota, quotaRatio          *prometheus.Desc
	remaining                             *prometheus.Desc
}

// Breaker state values of switchyard_deployment_breaker_state: ordered by
// how much traffic the deployment refuses.
const (
	breakerClosedValue   = 0
	breakerHalfOpenValue = 1
	breakerOpenValue     = 2
)

func newRouterCollector(router func() *route.Router) *routerCollector {
	labels := []string{labelDeployment, labelProvider, labelRegion}
	desc := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "deployment", name), help, append(labels, extra...), nil)
	}
	return &routerCollector{
		router:     router,
		breaker:    desc("breaker_state", "Circuit breaker state: 0 closed, 1 half-open (one trial request admitted), 2 open (refusing traffic)."),
		healthy:    desc("healthy", "1 while the deployment's breaker is closed."),
		saturated:  desc("saturated", "1 while the router steers traffic away for quota, throttling or the in-flight cap."),
		inFlight:   desc("in_flight", "Upstream attempts and open streams on the deployment."),
		latency:    desc("latency_ewma_seconds", "Time-decaying average latency the router steers by; phase is ttft or total. Absent before the first sample.", "phase"),
		minuteUse:  desc("minute_usage", "Requests or tokens sent in the current clock minute.", labelKind),
		quota:      desc("quota_per_minute", "Configured quota per minute (requests or tokens); absent when unknown.", labelKind),
		quotaRatio: desc("quota_used_ratio", "Share of the per-minute quota used this minute; the router treats 0.95 as saturated. Absent when the quota is unknown.", labelKind),
		remaining:  desc("upstream_remaining", "Requests or tokens the provider last reported remaining; absent when not reported.", labelKind),
	}
}

func (rc *routerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{rc.breaker, rc.healthy, rc.saturated, rc.inFlight, rc.latency, rc.minuteUse, rc.quota, rc.quotaRatio, rc.remaining} {
		ch <- d
	}
}

func (rc *routerCollector) Collect(ch chan<- prometheus.Metric) {
	r := rc.router()
	if r == nil {
		return
	}
	for _, st := range r.Status() {
		lv := []string{st.Name, st.Provider, st.Region}
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(lv[:3:3], extra...)...)
		}
		gauge(rc.breaker, breakerValue(st.Breaker))
		gauge(rc.healthy, boolValue(st.Healthy))
		gauge(rc.saturated, boolValue(st.Saturated))
		gauge(rc.inFlight, float64(st.InFlight))
		if st.TTFTMillis > 0 {
			gauge(rc.latency, st.TTFTMillis/1000, "ttft")
		}
		if st.TotalMillis > 0 {
			gauge(rc.latency, st.TotalMillis/1000, "total")
		}
		quota := func(kind string, used, limit, remaining int) {
			gauge(rc.minuteUse, float64(used), kind)
			if limit > 0 {
				gauge(rc.quota, float64(limit), kind)
				gauge(rc.quotaRatio, float64(used)/float64(limit), kind)
			}
			if remaining >= 0 {
				gauge(rc.remaining, float64(remaining), kind)
			}
		}
		quota("requests", st.RequestsThisMinute, st.RPM, st.RemainingRequests)
		quota("tokens", st.TokensThisMinute, st.TPM, st.RemainingTokens)
	}
}

// breakerValue maps route.BreakerState's names (Status reports names) to
// the gauge's values.
func breakerValue(state string) float64 {
	switch state {
	case route.BreakerHalfOpen.String():
		return breakerHalfOpenValue
	case route.BreakerOpen.String():
		return breakerOpenValue
	}
	return breakerClosedValue
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
