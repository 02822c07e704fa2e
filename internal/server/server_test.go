package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type okAuth struct{}

func (okAuth) Authenticate(context.Context, string) (*gateway.Caller, error) {
	return &gateway.Caller{KeyID: "k"}, nil
}

func writeErr(w http.ResponseWriter, _ *http.Request, e *llm.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": e.Message, "type": e.Type}})
}

func TestHandler(t *testing.T) {
	panicky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom at /secret/path") })
	ready := map[string]string{}
	h := Handler(Routes{
		OpenAI: panicky, OpenAIError: writeErr, Auth: okAuth{},
		Ready: func(context.Context) map[string]string { return ready },
	}, slog.New(slog.DiscardHandler))
	tests := []struct {
		name, method, path string
		status             int
		want, notWant      string
	}{
		{"liveness", "GET", "/healthz", 200, `"ok"`, ""},
		{"ready", "GET", "/readyz", 200, `"ready"`, ""},
		{"panic is a JSON 500, never a trace", "POST", "/v1/chat/completions", 500, `"type":"api_error"`, "boom"},
		{"unknown path", "GET", "/nope", 404, "/v1/", "<html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req.Header.Set("Authorization", "Bearer sk-sy-x")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
			if tt.notWant != "" && strings.Contains(rec.Body.String(), tt.notWant) {
				t.Errorf("body leaks %q: %s", tt.notWant, rec.Body)
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no request id")
			}
		})
	}
	ready["store"] = "unreachable"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "unreachable") {
		t.Errorf("readyz with a problem: %d %s", rec.Code, rec.Body)
	}
}

// TestServeDrains: once ctx is done the server stops accepting, lets the
// request in flight finish, and returns nil.
func TestServeDrains(t *testing.T) {
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		io.WriteString(w, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, slow, ServeOptions{DrainTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	}()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + ln.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	if body := <-got; body != "finished" {
		t.Errorf("in-flight request got %q", body)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still accepting after shutdown")
	}
}
