package telemetry

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/internal/route"
)

func deploymentLabels(name, provider, region string, extra ...string) map[string]string {
	l := map[string]string{"deployment": name, "provider": provider, "region": region}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func TestRouterCollector(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{
		breaker: route.BreakerConfig{FailureThreshold: 1},
		quota:   route.Quota{RPM: 100, TPM: 1000},
	})
	f.east.err = unavailable()
	if _, prov, err := f.gw.Chat(callContext(), chatRequest("gpt-4o")); err != nil || prov.Deployment != "west" {
		t.Fatalf("Chat = %+v, %v; want west to answer after east failed", prov, err)
	}
	current := f.router
	reg := prometheus.NewRegistry()
	reg.MustRegister(newRouterCollector(func() *route.Router { return current }))

	east := func(extra ...string) map[string]string {
		return deploymentLabels("east", "openai", "us-east-1", extra...)
	}
	west := func(extra ...string) map[string]string {
		return deploymentLabels("west", "azure", "westeurope", extra...)
	}
	for _, want := range []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"switchyard_deployment_breaker_state", east(), breakerOpenValue},
		{"switchyard_deployment_healthy", east(), 0},
		{"switchyard_deployment_breaker_state", west(), breakerClosedValue},
		{"switchyard_deployment_healthy", west(), 1},
		{"switchyard_deployment_in_flight", west(), 0},
		{"switchyard_deployment_quota_per_minute", east("kind", "requests"), 100},
		{"switchyard_deployment_quota_per_minute", east("kind", "tokens"), 1000},
	} {
		if got := value(t, reg, want.name, want.labels); got != want.value {
			t.Errorf("%s%v = %v, want %v", want.name, want.labels, got, want.value)
		}
	}
	used := value(t, reg, "switchyard_deployment_minute_usage", east("kind", "requests"))
	if used < 1 {
		t.Errorf("east minute_usage{requests} = %v, want the failed attempt counted", used)
	}
	if got := value(t, reg, "switchyard_deployment_quota_used_ratio", east("kind", "requests")); got != used/100 {
		t.Errorf("east quota_used_ratio{requests} = %v, want %v (%v of 100)", got, used/100, used)
	}
	if find(t, reg, "switchyard_deployment_quota_per_minute", west("kind", "requests")) != nil {
		t.Errorf("west has no quota configured, yet quota_per_minute is exported for it")
	}
	if got := value(t, reg, "switchyard_deployment_latency_ewma_seconds", west("phase", "total")); got <= 0 {
		t.Errorf("west latency_ewma_seconds{total} = %v, want the answered attempt's latency", got)
	}
	if find(t, reg, "switchyard_deployment_latency_ewma_seconds", east("phase", "total")) != nil {
		t.Errorf("east never answered, yet has a latency average")
	}
	if problems, err := testutil.CollectAndLint(newRouterCollector(func() *route.Router { return current })); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	t.Run("reads the router of the latest reload", func(t *testing.T) {
		next, err := route.New([]*route.Deployment{{Name: "north", Provider: "vertex", Region: "europe-west4"}},
			[]route.PoolConfig{{Alias: "gpt-4o", Deployments: []string{"north"}}}, route.Options{Previous: current})
		if err != nil {
			t.Fatal(err)
		}
		current = next
		if got := value(t, reg, "switchyard_deployment_healthy", deploymentLabels("north", "vertex", "europe-west4")); got != 1 {
			t.Errorf("north healthy = %v, want 1", got)
		}
		if find(t, reg, "switchyard_deployment_healthy", east()) != nil {
			t.Errorf("east is gone from the config, yet still reported")
		}
	})
	t.Run("no router yet", func(t *testing.T) {
		current = nil
		if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
			t.Errorf("gathered %d series (err %v) without a router, want 0", n, err)
		}
	})
}

func TestBreakerValue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		state route.BreakerState
		want  float64
	}{
		{route.BreakerClosed, 0},
		{route.BreakerHalfOpen, 1},
		{route.BreakerOpen, 2},
	} {
		t.Run(tt.state.String(), func(t *testing.T) {
			if got := breakerValue(tt.state.String()); got != tt.want {
				t.Errorf("breakerValue(%q) = %v, want %v", tt.state, got, tt.want)
			}
		})
	}
}
