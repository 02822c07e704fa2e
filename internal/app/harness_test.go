package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/logging"
	"github.com/switchyard/switchyard/internal/sim/fleet"
)

const (
	testKey       = "sk-sy-test0123456789abcdefghijklmnopqrstuvwxyz"
	restrictedKey = "sk-sy-restricted0123456789abcdefghijklmnopqrst"
)

// baseConfig is the gateway every end-to-end test starts from: two
// deployments of one model on two simulated clouds, and two keys.
const baseConfig = `
server:
  upstream_timeout: 2s
store:
  dsn: sqlite://${DATA_DIR}/switchyard.db
keys:
  - name: test
    secret: ` + testKey + `
  - name: restricted
    secret: ` + restrictedKey + `
    models: [gpt-4o]
deployments:
  - name: openai-us
    provider: openai
    model: gpt-4o-2024-08-06
    model_version: "2024-08-06"
    region: us-east-1
    capabilities: {tools: true, vision: true, json_schema: true}
    options:
      base_url: ${SIM_OPENAI_URL}/v1
      api_key: ${SIM_OPENAI_KEY}
  - name: openai-embed
    provider: openai
    model: text-embedding-3-small
    model_version: "3"
    region: us-east-1
    capabilities: {embeddings: true}
    options:
      base_url: ${SIM_OPENAI_URL}/v1
      api_key: ${SIM_OPENAI_KEY}
models:
  - alias: gpt-4o
    strategy: failover
    deployments: [openai-us]
  - alias: text-embedding-3-small
    deployments: [openai-embed]
`

// env is one running gateway over the simulated clouds.
type env struct {
	t     *testing.T
	fleet *fleet.Fleet
	gw    *app.Gateway
	srv   *httptest.Server
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the gateway on yamlCfg, with ${SIM_*} pointing at fresh fakes.
func start(t *testing.T, yamlCfg string) *env {
	t.Helper()
	f, err := fleet.Start(fleet.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cfg := parse(t, f, yamlCfg)
	logs := &syncBuffer{}
	log := logging.New(logs, "debug")
	gw, err := app.Build(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, fleet: f, gw: gw, srv: srv, logs: logs}
}

func parse(t *testing.T, f *fleet.Fleet, yamlCfg string) *config.Config {
	t.Helper()
	vars := f.Env()
	vars["DATA_DIR"] = t.TempDir()
	cfg, err := config.Parse([]byte(yamlCfg), config.ParseOptions{LookupEnv: func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// client is the official OpenAI SDK pointed at the gateway.
func (e *env) client(key string, opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{
		option.WithBaseURL(e.srv.URL + "/v1/"),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
		option.WithHTTPClient(e.srv.Client()),
	}
	return openai.NewClient(append(base, opts...)...)
}

// do sends a raw request and returns status, headers and body.
func (e *env) do(method, path, key, body string, hdr ...string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}
