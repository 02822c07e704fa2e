package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/fleet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTruncatedStreamIsAnError: an upstream stream cut short must reach
// the client as an error, never as a complete answer.
func TestTruncatedStreamIsAnError(t *testing.T) {
	e := start(t, baseConfig)
	e.fleet.Clouds["openai"].Engine.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "a b c d e f g h"}}}})
	e.fleet.Clouds["openai"].Engine.SetFaults(&sim.Faults{TruncateAfter: 3})
	status, _, body := e.do(http.MethodPost, "/v1/chat/completions", testKey,
		`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"go"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if strings.Contains(body, "[DONE]") || strings.Contains(body, `"finish_reason":"stop"`) {
		t.Errorf("a cut-off stream ended like a complete one:\n%s", body)
	}
	if !strings.Contains(body, `data: {"error":`) {
		t.Errorf("no error event:\n%s", body)
	}
	// And the SDK raises it.
	c := e.client(testKey)
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("go")},
	})
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Error("the SDK saw a truncated stream as complete")
	}
	stream.Close()
}

// TestClientDisconnectCancelsUpstream: when the client goes away mid-stream,
// the gateway drops the upstream request at once.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	e := start(t, baseConfig)
	eng := e.fleet.Clouds["openai"].Engine
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: strings.Repeat("word ", 50)}}}})
	eng.SetFaults(&sim.Faults{ChunkDelay: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"go"}]}`))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for eng.Aborted() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if eng.Aborted() != 1 {
		t.Fatalf("upstream stream was not cancelled (aborted=%d)", eng.Aborted())
	}
}

// TestLogsCarryRequestIDAndNoSecrets checks the logging promise.
func TestLogsCarryRequestIDAndNoSecrets(t *testing.T) {
	e := start(t, baseConfig)
	e.fleet.Clouds["openai"].Engine.SetFaults(&sim.Faults{ErrorRate: 1, ErrorStatus: 500})
	e.do(http.MethodPost, "/v1/chat/completions", testKey, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, "X-Request-Id", "trace-abc-123")
	logs := e.logs.String()
	if !strings.Contains(logs, `"client_request_id":"trace-abc-123"`) {
		t.Errorf("no line carries the client's request id:\n%s", logs)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %s", line)
		}
		if strings.Contains(line, "/v1/chat/completions") && m["request_id"] == nil {
			t.Errorf("request line without request id: %s", line)
		}
	}
	for _, secret := range []string{testKey, fleet.OpenAIKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret reached the logs: %s", secret)
		}
	}
}

func writeConfig(t *testing.T, f *fleet.Fleet, dir, extra string) string {
	t.Helper()
	cfg := strings.ReplaceAll(baseConfig+extra, "${DATA_DIR}", dir)
	for k, v := range f.Env() {
		cfg = strings.ReplaceAll(cfg, "${"+k+"}", v)
	}
	path := filepath.Join(dir, "switchyard.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeReloadsAndDrains runs the real Serve loop: SIGHUP reloads the
// config; cancelling lets an in-flight stream finish, then Serve returns nil.
func TestServeReloadsAndDrains(t *testing.T) {
	f, err := fleet.Start(fleet.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	path := writeConfig(t, f, dir, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.ServeOptions{ConfigPath: path, Listen: "127.0.0.1:0", DataDir: dir, Stdout: io.Discard, Stderr: io.Discard, Ready: ready})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	client := &http.Client{}
	defer client.CloseIdleConnections()
	post := func(body string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		return client.Do(req)
	}
	// Reload: a new alias appears on SIGHUP.
	writeConfig(t, f, dir, "  - alias: gpt-4o-new\n    deployments: [openai-us]\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	var status int
	for i := 0; i < 100; i++ {
		resp, err := post(`{"model":"gpt-4o-new","messages":[{"role":"user","content":"hi"}]}`)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if status = resp.StatusCode; status == 200 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status != 200 {
		t.Fatalf("after SIGHUP the new alias answers %d", status)
	}
	// Drain: a slow stream in flight when shutdown starts still completes.
	eng := f.Clouds["openai"].Engine
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "one two three four five six"}}}})
	eng.SetFaults(&sim.Faults{ChunkDelay: 60 * time.Millisecond})
	resp, err := post(`{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"go"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	rest, err := io.ReadAll(br)
	resp.Body.Close()
	if err != nil || !strings.Contains(string(rest), "data: [DONE]") {
		t.Fatalf("in-flight stream did not finish during drain: %v\n%s", err, rest)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after drain", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after drain")
	}
}

// TestMetricsEndpoint: a served request shows in /metrics, labelled by
// where it went, and readiness reports ready.
func TestMetricsEndpoint(t *testing.T) {
	e := start(t, baseConfig)
	e.do(http.MethodPost, "/v1/chat/completions", testKey, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	status, _, body := e.do(http.MethodGet, "/metrics", "", "")
	if status != 200 {
		t.Fatalf("metrics status %d", status)
	}
	want := `switchyard_requests_total{alias="gpt-4o",code_class="2xx",deployment="openai-us",front_door="openai",provider="openai",region="us-east-1"} 1`
	if !strings.Contains(body, want) {
		t.Errorf("metrics lack %s", want)
	}
	if strings.Contains(body, testKey) {
		t.Error("a key reached the metrics")
	}
	for _, family := range []string{`switchyard_records_spilled_total{writer="usage"}`, `switchyard_records_enqueued_total{writer="audit"}`, "switchyard_deployment_breaker_state"} {
		if !strings.Contains(body, family) {
			t.Errorf("metrics lack %s", family)
		}
	}
	if status, _, body := e.do(http.MethodGet, "/readyz", "", ""); status != 200 {
		t.Errorf("readyz %d: %s", status, body)
	}
}
