package app_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/sim"
)

// The chaos scenarios of the routing issue, run against the simulated
// clouds through the whole gateway. Each is bounded in time.

const euKey = "sk-sy-eu0123456789abcdefghijklmnopqrstuvwxyzAB"

// chaosConfig serves gpt-4o from OpenAI (us-east-1, version 2024-08-06)
// and Azure (westeurope, version 2024-05-13), with a breaker quick enough
// for tests.
func chaosConfig(strategy string) string {
	return `
server:
  upstream_timeout: 3s
store:
  dsn: sqlite://${DATA_DIR}/switchyard.db
keys:
  - name: test
    secret: ` + testKey + `
    allow_route_override: true
  - name: eu-only
    secret: ` + euKey + `
    regions: ["eu-*", "europe-*", "westeurope"]
deployments:
  - name: openai-us
    provider: openai
    model: gpt-4o-2024-08-06
    model_version: "2024-08-06"
    region: us-east-1
    weight: 1
    options:
      base_url: ${SIM_OPENAI_URL}/v1
      api_key: ${SIM_OPENAI_KEY}
  - name: azure-weu
    provider: azure
    model: gpt-4o-weu
    model_version: "2024-05-13"
    region: westeurope
    priority: 1
    weight: 1
    options:
      endpoint: ${SIM_AZURE_URL}
      api_version: 2024-10-21
      api_key: ${SIM_AZURE_KEY}
models:
  - alias: gpt-4o
    strategy: ` + strategy + `
    deployments: [openai-us, azure-weu]
    breaker: {failure_threshold: 3, open_for: 500ms}
    retry: {max_attempts: 3, base_backoff: 10ms, max_backoff: 100ms, deadline: 10s}
`
}

const chatBody = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`

// hammer sends n requests with the given concurrency and returns the
// status counts and which deployment answered each success.
func hammer(t *testing.T, e *env, n, workers int, key, body string) (statuses map[int]int, served map[string]int) {
	t.Helper()
	statuses, served = map[int]int{}, map[string]int{}
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				status, hdr, _ := e.do(http.MethodPost, "/v1/chat/completions", key, body)
				mu.Lock()
				statuses[status]++
				if status == 200 {
					served[hdr.Get("X-Switchyard-Deployment")]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return statuses, served
}

func TestChaosOneCloudDown(t *testing.T) {
	e := start(t, chaosConfig("failover"))
	openai := e.fleet.Clouds["openai"].Engine
	openai.SetFaults(&sim.Faults{Down: true})
	statuses, served := hammer(t, e, 1000, 8, testKey, chatBody)
	if statuses[200] != 1000 {
		t.Fatalf("client-visible errors: %v", statuses)
	}
	if served["openai-us"] != 0 || served["azure-weu"] != 1000 {
		t.Errorf("served %v", served)
	}
	// After the breaker opened, the dead cloud only sees half-open trials:
	// a handful over the run, not a share of 1,000 requests.
	if got := openai.Recorder().Count(); got > 20 {
		t.Errorf("the dead cloud received %d requests; the breaker should keep traffic away", got)
	}
}

func TestChaosThrottledCloudLosesShare(t *testing.T) {
	e := start(t, chaosConfig("weighted"))
	e.fleet.Clouds["openai"].Engine.SetFaults(&sim.Faults{ErrorRate: 0.5, ErrorStatus: 429, RetryAfter: time.Second})
	statuses, served := hammer(t, e, 400, 4, testKey, chatBody)
	if statuses[200] != 400 {
		t.Fatalf("client-visible errors: %v", statuses)
	}
	// Unthrottled, weights 1:1 would give each half; a cloud answering 429
	// is cooled down, so its share must fall well below that.
	if share := float64(served["openai-us"]) / 400; share > 0.35 {
		t.Errorf("throttled cloud still served %.0f%% (%v)", 100*share, served)
	}
}

func TestChaosLatencyShift(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for about 10 seconds")
	}
	e := start(t, chaosConfig("latency"))
	// First the US region is the faster one and takes the traffic...
	e.fleet.Clouds["azure"].Engine.SetFaults(&sim.Faults{Latency: 20 * time.Millisecond})
	hammer(t, e, 60, 4, testKey, chatBody)
	if _, served := hammer(t, e, 40, 4, testKey, chatBody); served["openai-us"] < 36 {
		t.Fatalf("before the shift the faster region should carry the traffic: %v", served)
	}
	// ...then it becomes 300 ms slower than the European one.
	e.fleet.Clouds["openai"].Engine.SetFaults(&sim.Faults{Latency: 320 * time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	var lastWindow map[string]int
	for time.Now().Before(deadline) {
		_, served := hammer(t, e, 40, 4, testKey, chatBody)
		lastWindow = served
		if fast := served["azure-weu"]; fast >= 36 {
			return // at least 90% on the faster region
		}
	}
	t.Errorf("traffic did not move to the faster region within 10s; last window %v", lastWindow)
}

func TestChaosResidencyNeverLeaks(t *testing.T) {
	e := start(t, chaosConfig("failover"))
	e.fleet.Clouds["azure"].Engine.SetFaults(&sim.Faults{Down: true})
	openai := e.fleet.Clouds["openai"].Engine
	before := openai.Recorder().Count()
	for i := 0; i < 50; i++ {
		status, _, body := e.do(http.MethodPost, "/v1/chat/completions", euKey, chatBody)
		if status != http.StatusServiceUnavailable && status != http.StatusForbidden {
			t.Fatalf("request %d: status %d: %s", i, status, body)
		}
		if !strings.Contains(body, "westeurope") && !strings.Contains(body, "region") {
			t.Fatalf("the error does not say why: %s", body)
		}
	}
	if got := openai.Recorder().Count() - before; got != 0 {
		t.Errorf("the non-EU cloud received %d requests from an EU-only key", got)
	}
}

func TestChaosPinnedVersionNeverServedByAnother(t *testing.T) {
	e := start(t, chaosConfig("failover"))
	e.fleet.Clouds["azure"].Engine.SetFaults(&sim.Faults{Down: true})
	openai := e.fleet.Clouds["openai"].Engine
	before := openai.Recorder().Count()
	pinned := `{"model":"gpt-4o@2024-05-13","messages":[{"role":"user","content":"hi"}]}`
	for i := 0; i < 20; i++ {
		status, hdr, body := e.do(http.MethodPost, "/v1/chat/completions", testKey, pinned)
		if status == 200 {
			t.Fatalf("pinned request answered by %s (version %s)", hdr.Get("X-Switchyard-Deployment"), hdr.Get("X-Switchyard-Model-Version"))
		}
		if status < 500 {
			t.Fatalf("status %d: %s", status, body)
		}
	}
	if got := openai.Recorder().Count() - before; got != 0 {
		t.Errorf("the other version's cloud received %d pinned requests", got)
	}
	// The healthy version still serves its own pin.
	status, hdr, _ := e.do(http.MethodPost, "/v1/chat/completions", testKey, `{"model":"gpt-4o@2024-08-06","messages":[{"role":"user","content":"hi"}]}`)
	if status != 200 || hdr.Get("X-Switchyard-Model-Version") != "2024-08-06" {
		t.Errorf("pin to the healthy version: %d %s", status, hdr.Get("X-Switchyard-Model-Version"))
	}
}

// TestStrategyOverrideHeader: a key allowed to choose the strategy may
// send x-switchyard-strategy; an unknown strategy is a 400.
func TestStrategyOverrideHeader(t *testing.T) {
	e := start(t, chaosConfig("failover"))
	status, _, body := e.do(http.MethodPost, "/v1/chat/completions", testKey, chatBody, "X-Switchyard-Strategy", "cost")
	if status != 200 {
		t.Fatalf("override: %d %s", status, body)
	}
	status, _, body = e.do(http.MethodPost, "/v1/chat/completions", testKey, chatBody, "X-Switchyard-Strategy", "fastest-please")
	if status != 400 || !strings.Contains(body, "fastest-please") {
		t.Errorf("unknown strategy: %d %s", status, body)
	}
	status, _, body = e.do(http.MethodPost, "/v1/chat/completions", euKey, chatBody, "X-Switchyard-Strategy", "cost")
	if status != 400 || !strings.Contains(body, "may not choose") {
		t.Errorf("override by a key without permission: %d %s", status, body)
	}
}

// TestProbesBringARecoveredCloudBack: with active probes on, a deployment
// whose breaker opened is closed again by a probe once it recovers, with
// no client request risked on it.
func TestProbesBringARecoveredCloudBack(t *testing.T) {
	e := start(t, chaosConfig("failover")+"health:\n  probe_interval: 1s\n")
	openai := e.fleet.Clouds["openai"].Engine
	openai.SetFaults(&sim.Faults{Down: true})
	hammer(t, e, 20, 1, testKey, chatBody) // opens openai-us's breaker
	if st := breakerOf(e, "openai-us"); st != "open" {
		t.Fatalf("breaker %q after the outage, want open", st)
	}
	openai.SetFaults(nil)
	deadline := time.Now().Add(5 * time.Second)
	for breakerOf(e, "openai-us") != "closed" {
		if time.Now().After(deadline) {
			t.Fatal("no probe closed the recovered deployment's breaker within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, served := hammer(t, e, 5, 1, testKey, chatBody); served["openai-us"] != 5 {
		t.Errorf("the recovered deployment is not first again: %v", served)
	}
}

func breakerOf(e *env, name string) string {
	for _, st := range e.gw.Core().Router().Status() {
		if st.Name == name {
			return st.Breaker
		}
	}
	return ""
}

// TestCostStrategyUsesCommitmentsFirst: under the cost strategy, the
// dearer deployment with an unspent prepaid commitment answers first; once
// the commitment is used up, the cheaper pay-as-you-go one does.
func TestCostStrategyUsesCommitmentsFirst(t *testing.T) {
	cfg := strings.Replace(chaosConfig("cost"), "    weight: 1\n    options:\n      base_url", "    weight: 1\n    price: {input: 1.00, output: 2.00}\n    options:\n      base_url", 1)
	cfg = strings.Replace(cfg, "    priority: 1\n    weight: 1\n", "    priority: 1\n    weight: 1\n    price: {input: 10.00, output: 20.00}\n", 1)
	if !strings.Contains(cfg, "input: 1.00") || !strings.Contains(cfg, "input: 10.00") {
		t.Fatal("prices were not added to the config")
	}
	// Without a commitment the cheaper deployment wins.
	if _, hdr, _ := start(t, cfg).do(http.MethodPost, "/v1/chat/completions", testKey, chatBody); hdr.Get("X-Switchyard-Deployment") != "openai-us" {
		t.Fatalf("without commitments the cheaper deployment should answer, got %s", hdr.Get("X-Switchyard-Deployment"))
	}
	cfg += "pricing:\n  commitments:\n    - {provider: azure, deployment: azure-weu, monthly: \"0.001\"}\n"
	e := start(t, cfg)
	pinned := `{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	_, hdr, _ := e.do(http.MethodPost, "/v1/chat/completions", testKey, pinned)
	if got := hdr.Get("X-Switchyard-Deployment"); got != "azure-weu" {
		t.Fatalf("first request went to %s; the prepaid deployment should win while its commitment lasts", got)
	}
	// $0.001 at $10/$20 per million tokens lasts a few dozen small calls.
	var last string
	for i := 0; i < 200 && last != "openai-us"; i++ {
		_, hdr, _ = e.do(http.MethodPost, "/v1/chat/completions", testKey, pinned)
		last = hdr.Get("X-Switchyard-Deployment")
	}
	if last != "openai-us" {
		t.Errorf("after the commitment was used up traffic stayed on %s", last)
	}
}

// TestHedgingAnswersFromTheFasterCloud: with hedging on, a slow first
// deployment is raced by a second one after the hedge delay; the faster
// answer wins, and the call's audit record says it was hedged.
func TestHedgingAnswersFromTheFasterCloud(t *testing.T) {
	cfg := strings.Replace(chaosConfig("failover"), "    breaker: {failure_threshold: 3, open_for: 500ms}\n",
		"    breaker: {failure_threshold: 3, open_for: 500ms}\n    hedge: {enabled: true, delay: 50ms}\n", 1)
	e := start(t, cfg+"admin:\n  bootstrap_token: "+adminToken+"\n")
	e.fleet.Clouds["openai"].Engine.SetFaults(&sim.Faults{Latency: 1500 * time.Millisecond})
	status, hdr, body := e.do(http.MethodPost, "/v1/chat/completions", testKey, chatBody)
	if status != 200 || hdr.Get("X-Switchyard-Deployment") != "azure-weu" || hdr.Get("X-Switchyard-Attempts") != "2" {
		t.Fatalf("status %d, deployment %s, attempts %s: %s", status, hdr.Get("X-Switchyard-Deployment"), hdr.Get("X-Switchyard-Attempts"), body)
	}
	if err := app.GovernanceOf(e.gw).Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, _, audit := e.do(http.MethodGet, "/admin/v1/audit", adminToken, "")
	if !strings.Contains(audit, `\"hedged\":true`) && !strings.Contains(audit, `"hedged":true`) {
		t.Errorf("no audit record marks the call as hedged:\n%s", audit)
	}
}
