package telemetry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/route"
)

func requestLabels(alias string, prov gateway.Provenance, class string) map[string]string {
	return map[string]string{"alias": alias, "provider": prov.Provider, "deployment": prov.Deployment,
		"region": prov.Region, "code_class": class, "front_door": "openai"}
}

func depLabels(alias string, prov gateway.Provenance) map[string]string {
	return map[string]string{"alias": alias, "provider": prov.Provider, "deployment": prov.Deployment}
}

func tokenLabels(alias string, prov gateway.Provenance, kind string) map[string]string {
	l := depLabels(alias, prov)
	l["kind"] = kind
	return l
}

func TestMetrics_Chat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc          string
		model         string
		setup         func(f *fixture)
		refuse        bool
		wantAlias     string
		wantDep       string
		wantClass     string
		wantAttempts  float64
		wantFailovers float64
		wantTokens    bool
	}{
		{desc: "answered by the first deployment", model: "gpt-4o",
			wantAlias: "gpt-4o", wantDep: "east", wantClass: "2xx", wantAttempts: 1, wantTokens: true},
		{desc: "failed over to the second deployment", model: "gpt-4o",
			setup:     func(f *fixture) { f.east.err = unavailable() },
			wantAlias: "gpt-4o", wantDep: "west", wantClass: "2xx", wantAttempts: 2, wantFailovers: 1, wantTokens: true},
		{desc: "every deployment down", model: "gpt-4o",
			setup:     func(f *fixture) { f.east.err, f.west.err = unavailable(), unavailable() },
			wantAlias: "gpt-4o", wantClass: "5xx", wantFailovers: 1},
		{desc: "unknown model is labelled unknown", model: "made-up-model-1234",
			wantAlias: unknownAlias, wantClass: "4xx"},
		{desc: "refused by an earlier stage", model: "gpt-4o", refuse: true,
			wantAlias: "gpt-4o", wantClass: "4xx"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			m := NewMetrics(MetricsOptions{})
			stages := []gateway.Stage{m.Stage()}
			if tt.refuse {
				stages = []gateway.Stage{refuser{}, m.Stage()}
			}
			f := newFixture(t, fixtureOptions{stages: stages})
			if tt.setup != nil {
				tt.setup(f)
			}
			_, prov, err := f.gw.Chat(callContext(), chatRequest(tt.model))
			if (err == nil) != (tt.wantClass == "2xx") {
				t.Fatalf("Chat error = %v, want class %s", err, tt.wantClass)
			}
			if tt.wantDep != "" && prov.Deployment != tt.wantDep {
				t.Fatalf("answered by %q, want %q", prov.Deployment, tt.wantDep)
			}
			reg := m.Registry()
			if got := value(t, reg, "switchyard_requests_total", requestLabels(tt.wantAlias, prov, tt.wantClass)); got != 1 {
				t.Errorf("requests_total = %v, want 1", got)
			}
			durLabels := requestLabels(tt.wantAlias, prov, tt.wantClass)
			delete(durLabels, "front_door")
			if got := value(t, reg, "switchyard_request_duration_seconds", durLabels); got != 1 {
				t.Errorf("request_duration_seconds count = %v, want 1", got)
			}
			if tt.wantAttempts == 0 {
				tt.wantAttempts = float64(prov.Attempts) // however many the router made
			}
			if prov.Attempts > 0 {
				if got := value(t, reg, "switchyard_upstream_attempts_total", depLabels(tt.wantAlias, prov)); got != tt.wantAttempts {
					t.Errorf("upstream_attempts_total = %v, want %v", got, tt.wantAttempts)
				}
			}
			if got := value(t, reg, "switchyard_failovers_total", depLabels(tt.wantAlias, prov)); got != tt.wantFailovers {
				t.Errorf("failovers_total = %v, want %v", got, tt.wantFailovers)
			}
			wantTokens := map[string]float64{"prompt": 0, "completion": 0, "cached": 0}
			if tt.wantTokens {
				wantTokens = map[string]float64{"prompt": 12, "completion": 5, "cached": 4}
			}
			for kind, want := range wantTokens {
				if got := value(t, reg, "switchyard_tokens_total", tokenLabels(tt.wantAlias, prov, kind)); got != want {
					t.Errorf("tokens_total{kind=%s} = %v, want %v", kind, got, want)
				}
			}
			if got := testutil.ToFloat64(m.inFlight); got != 0 {
				t.Errorf("requests_in_flight = %v after the call, want 0", got)
			}
		})
	}
}

func TestMetrics_Stream(t *testing.T) {
	t.Parallel()
	cutShort := &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeAPI, Upstream: true, Message: "connection reset mid-stream"}
	tests := []struct {
		desc       string
		streamErr  error
		wantClass  string
		wantTokens float64 // prompt tokens
	}{
		{desc: "complete stream", wantClass: "2xx", wantTokens: 12},
		{desc: "cut short after chunks", streamErr: cutShort, wantClass: "5xx"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			m := NewMetrics(MetricsOptions{})
			f := newFixture(t, fixtureOptions{stages: []gateway.Stage{m.Stage()}})
			f.east.streamErr = tt.streamErr
			req := chatRequest("gpt-4o")
			req.Stream = true
			s, prov, err := f.gw.ChatStream(callContext(), req)
			if err != nil {
				t.Fatal(err)
			}
			if got := testutil.ToFloat64(m.inFlight); got != 1 {
				t.Errorf("requests_in_flight = %v while streaming, want 1", got)
			}
			ttftLabels := map[string]string{"alias": "gpt-4o", "provider": "openai", "deployment": "east", "region": "us-east-1"}
			if got := find(t, m.Registry(), "switchyard_time_to_first_token_seconds", ttftLabels); got != nil {
				t.Errorf("time to first token observed before the client read a chunk")
			}
			if err := drain(t, s); !errors.Is(err, tt.streamErr) {
				t.Fatalf("stream ended with %v, want %v", err, tt.streamErr)
			}
			reg := m.Registry()
			if got := value(t, reg, "switchyard_time_to_first_token_seconds", ttftLabels); got != 1 {
				t.Errorf("time_to_first_token_seconds count = %v, want 1", got)
			}
			if got := value(t, reg, "switchyard_requests_total", requestLabels("gpt-4o", prov, tt.wantClass)); got != 1 {
				t.Errorf("requests_total = %v, want 1", got)
			}
			if got := value(t, reg, "switchyard_tokens_total", tokenLabels("gpt-4o", prov, "prompt")); got != tt.wantTokens {
				t.Errorf("prompt tokens = %v, want %v", got, tt.wantTokens)
			}
			if got := testutil.ToFloat64(m.inFlight); got != 0 {
				t.Errorf("requests_in_flight = %v after the stream, want 0", got)
			}
		})
	}
}

func TestMetrics_CallerLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc       string
		opts       MetricsOptions
		wantLabels map[string]string // caller labels on requests_total
	}{
		{desc: "off by default", opts: MetricsOptions{}, wantLabels: map[string]string{}},
		{desc: "team", opts: MetricsOptions{TeamLabel: true}, wantLabels: map[string]string{"team": "team-a"}},
		{desc: "team and key", opts: MetricsOptions{TeamLabel: true, KeyLabel: true}, wantLabels: map[string]string{"team": "team-a", "key": "key-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			m := NewMetrics(tt.opts)
			f := newFixture(t, fixtureOptions{stages: []gateway.Stage{m.Stage()}})
			_, prov, err := f.gw.Chat(callContext(), chatRequest("gpt-4o"))
			if err != nil {
				t.Fatal(err)
			}
			for _, fam := range []struct {
				name   string
				labels map[string]string
			}{
				{"switchyard_requests_total", requestLabels("gpt-4o", prov, "2xx")},
				{"switchyard_tokens_total", tokenLabels("gpt-4o", prov, "prompt")},
			} {
				for k, v := range tt.wantLabels {
					fam.labels[k] = v
				}
				if find(t, m.Registry(), fam.name, fam.labels) == nil {
					t.Errorf("no %s%v; have:\n%s", fam.name, fam.labels, dump(t, m.Registry(), fam.name))
				}
			}
			// Histograms never carry caller labels, whatever the options.
			durLabels := requestLabels("gpt-4o", prov, "2xx")
			delete(durLabels, "front_door")
			if find(t, m.Registry(), "switchyard_request_duration_seconds", durLabels) == nil {
				t.Errorf("request_duration_seconds has labels beyond %v:\n%s", durLabels, dump(t, m.Registry(), "switchyard_request_duration_seconds"))
			}
		})
	}
}

func TestMetrics_Cost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		cost     func(*gateway.Call) (float64, bool)
		wantCost float64 // -1: no cost family at all
	}{
		{desc: "no cost function, no family", wantCost: -1},
		{desc: "priced call", cost: func(c *gateway.Call) (float64, bool) {
			return float64(c.Usage.PromptTokens) * 0.001, true
		}, wantCost: 0.012},
		{desc: "price unknown", cost: func(*gateway.Call) (float64, bool) { return 0, false }, wantCost: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			m := NewMetrics(MetricsOptions{Cost: tt.cost})
			f := newFixture(t, fixtureOptions{stages: []gateway.Stage{m.Stage()}})
			_, prov, err := f.gw.Chat(callContext(), chatRequest("gpt-4o"))
			if err != nil {
				t.Fatal(err)
			}
			n, err := testutil.GatherAndCount(m.Registry(), "switchyard_cost_usd_total")
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCost < 0 {
				if n != 0 {
					t.Errorf("cost_usd_total has %d series without a cost function, want none", n)
				}
				return
			}
			got := value(t, m.Registry(), "switchyard_cost_usd_total", depLabels("gpt-4o", prov))
			if diff := got - tt.wantCost; diff > 1e-12 || diff < -1e-12 {
				t.Errorf("cost_usd_total = %v, want %v", got, tt.wantCost)
			}
		})
	}
}

// TestMetrics_FakeCall drives the stage with Calls built by hand, as a
// stage test outside the gateway would: no router, no before-stage.
func TestMetrics_FakeCall(t *testing.T) {
	t.Parallel()
	m := NewMetrics(MetricsOptions{})
	st := m.Stage().(gateway.AfterStage)
	d := &route.Deployment{Name: "bedrock-use1", Provider: "bedrock", Region: "us-east-1"}
	calls := []*gateway.Call{
		{Kind: "embeddings", Alias: "titan", Start: time.Now(), Deployment: d, Attempts: 1, Usage: &llm.Usage{PromptTokens: 7}, Info: &gateway.RequestInfo{FrontDoor: "openai"}},
		{Kind: "embeddings", Alias: "titan", Start: time.Now(), Deployment: d, Attempts: 3, Err: context.Canceled, Info: &gateway.RequestInfo{FrontDoor: "openai"}},
	}
	for _, c := range calls {
		st.After(context.Background(), c)
	}
	prov := gateway.Provenance{Provider: "bedrock", Deployment: "bedrock-use1", Region: "us-east-1"}
	for _, want := range []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"switchyard_requests_total", requestLabels("titan", prov, "2xx"), 1},
		{"switchyard_requests_total", requestLabels("titan", prov, "4xx"), 1}, // 499, the client went away
		{"switchyard_tokens_total", tokenLabels("titan", prov, "prompt"), 7},
		{"switchyard_upstream_attempts_total", depLabels("titan", prov), 4},
		{"switchyard_failovers_total", depLabels("titan", prov), 1},
		{"switchyard_requests_in_flight", map[string]string{}, 0}, // After without Before does not go negative
	} {
		if got := value(t, m.Registry(), want.name, want.labels); got != want.value {
			t.Errorf("%s%v = %v, want %v", want.name, want.labels, got, want.value)
		}
	}
}

func TestMetrics_Handler(t *testing.T) {
	t.Parallel()
	var current *route.Router
	m := NewMetrics(MetricsOptions{Router: func() *route.Router { return current }})
	f := newFixture(t, fixtureOptions{stages: []gateway.Stage{m.Stage()}})
	current = f.router
	spilled := prometheus.NewCounter(prometheus.CounterOpts{Name: "switchyard_usage_spilled_total", Help: "test"})
	m.Registry().MustRegister(spilled)
	spilled.Add(3)
	if _, _, err := f.gw.Chat(callContext(), chatRequest("gpt-4o")); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text exposition format", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"# TYPE switchyard_requests_total counter",
		"# TYPE switchyard_request_duration_seconds histogram",
		`switchyard_request_duration_seconds_bucket{alias="gpt-4o",code_class="2xx",deployment="east",provider="openai",region="us-east-1",le="120"} 1`,
		"# TYPE switchyard_time_to_first_token_seconds histogram",
		"# TYPE switchyard_tokens_total counter",
		"# TYPE switchyard_upstream_attempts_total counter",
		"# TYPE switchyard_failovers_total counter",
		"# TYPE switchyard_requests_in_flight gauge",
		`switchyard_deployment_breaker_state{deployment="east",provider="openai",region="us-east-1"} 0`,
		`switchyard_deployment_healthy{deployment="west",provider="azure",region="westeurope"} 1`,
		"switchyard_usage_spilled_total 3",
		"# TYPE go_goroutines gauge",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if problems, err := testutil.GatherAndLint(m.Registry()); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
	for _, banned := range []string{"req-1", "key-1", "team-a"} {
		if strings.Contains(body, banned) {
			t.Errorf("/metrics contains %q; request ids and callers must not become labels by default", banned)
		}
	}
}

func TestCodeClass(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{200: "2xx", 201: "2xx", 400: "4xx", 429: "4xx", 499: "4xx", 503: "5xx", 0: "other", 999: "other"} {
		if got := codeClass(status); got != want {
			t.Errorf("codeClass(%d) = %q, want %q", status, got, want)
		}
	}
}
