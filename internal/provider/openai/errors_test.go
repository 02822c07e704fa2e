package openai_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/provider/openai"
	"github.com/switchyard/switchyard/internal/sim"
)

// call runs one request in the given mode and returns its error.
type mode struct {
	name string
	run  func(c *openai.Client, req *llm.ChatRequest) error
}

var modes = []mode{
	{"non-stream", func(c *openai.Client, req *llm.ChatRequest) error {
		_, err := c.ChatCompletion(context.Background(), req)
		return err
	}},
	{"stream", func(c *openai.Client, req *llm.ChatRequest) error {
		s, err := c.StreamChatCompletion(context.Background(), req)
		if err == nil {
			s.Close()
		}
		return err
	}},
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name        string
		faults      *sim.Faults
		setup       func(u *upstream)
		req         *llm.ChatRequest
		wantStatus  int
		wantType    string
		wantCode    string
		wantParam   string
		wantRetry   time.Duration
		wantMessage []string // fragments a person needs to act
	}{
		{name: "429 keeps retry-after-ms", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 429, RetryAfter: 2500 * time.Millisecond},
			wantStatus: 429, wantType: llm.TypeRateLimit, wantCode: "rate_limit_exceeded", wantRetry: 2500 * time.Millisecond, wantMessage: []string{"primary", "rate limited"}},
		{name: "400 keeps upstream message", req: &llm.ChatRequest{Model: "x", Messages: []llm.Message{}},
			wantStatus: 400, wantType: llm.TypeInvalidRequest, wantCode: "empty_array", wantParam: "messages", wantMessage: []string{"Invalid 'messages'"}},
		{name: "401 upstream is the operator's problem", setup: func(u *upstream) { u.client.Authorize = openai.BearerAuth("sk-revoked-key-9") },
			wantStatus: 502, wantType: llm.TypeAPI, wantCode: "upstream_auth_failed", wantMessage: []string{"deployment primary rejected the gateway's credentials for openai", "client's key was fine", "provider key"}},
		{name: "404 names deployment and model", setup: func(u *upstream) { u.client.Deployment.Model = "gpt-9" },
			wantStatus: 502, wantType: llm.TypeAPI, wantCode: "upstream_not_found", wantMessage: []string{"deployment primary", `"gpt-9"`, "config"}},
		{name: "500 is 502", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 500}, wantStatus: 502, wantType: llm.TypeAPI, wantMessage: []string{"primary", "500"}},
		{name: "502 is 502", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 502}, wantStatus: 502, wantType: llm.TypeAPI},
		{name: "503 is 503 with retry", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 503, RetryAfter: 4 * time.Second},
			wantStatus: 503, wantType: llm.TypeOverloaded, wantRetry: 4 * time.Second, wantMessage: []string{"primary", "overloaded"}},
		{name: "529 is 503", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 529}, wantStatus: 503, wantType: llm.TypeOverloaded},
		{name: "504 is 504", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 504}, wantStatus: 504, wantType: llm.TypeTimeout, wantMessage: []string{"timed out"}},
		{name: "408 is 504", faults: &sim.Faults{FailEvery: 1, ErrorStatus: 408}, wantStatus: 504, wantType: llm.TypeTimeout},
		{name: "timeout is 504", faults: &sim.Faults{Latency: time.Second}, setup: func(u *upstream) { u.client.Timeout = 50 * time.Millisecond },
			wantStatus: 504, wantType: llm.TypeTimeout, wantMessage: []string{"primary", "did not answer within 50ms"}},
		{name: "connection refused is 502", setup: func(u *upstream) { u.srv.Close() },
			wantStatus: 502, wantType: llm.TypeAPI, wantMessage: []string{"primary", "could not be reached (connection refused)"}},
	}
	for _, tt := range tests {
		for _, m := range modes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				u := newUpstream(t, openai.Options{}, nil)
				u.eng.SetFaults(tt.faults)
				if tt.setup != nil {
					tt.setup(u)
				}
				req := tt.req
				if req == nil {
					req = chatRequest("hi")
				}
				err := m.run(u.client, req)
				le, ok := errors.AsType[*llm.Error](err)
				if !ok {
					t.Fatalf("err = %v (%T); want *llm.Error", err, err)
				}
				if le.Status != tt.wantStatus || le.Type != tt.wantType || !le.Upstream {
					t.Errorf("got %d %s upstream=%v; want %d %s upstream", le.Status, le.Type, le.Upstream, tt.wantStatus, tt.wantType)
				}
				if tt.wantCode != "" && le.Code != tt.wantCode {
					t.Errorf("code = %q; want %q", le.Code, tt.wantCode)
				}
				if le.Param != tt.wantParam {
					t.Errorf("param = %q; want %q", le.Param, tt.wantParam)
				}
				if le.RetryAfter != tt.wantRetry {
					t.Errorf("retry after = %v; want %v", le.RetryAfter, tt.wantRetry)
				}
				for _, frag := range tt.wantMessage {
					if !strings.Contains(le.Message, frag) {
						t.Errorf("message %q lacks %q", le.Message, frag)
					}
				}
				if strings.Contains(le.Message, key) || strings.Contains(le.Message, "sk-revoked-key-9") {
					t.Errorf("message leaks a key: %q", le.Message)
				}
			})
		}
	}
}

func TestErrorFromResponse(t *testing.T) {
	target := openai.Target{Provider: "azure", Deployment: "eu", Model: "gpt-4o-prod"}
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantStatus int
		wantCode   string
		wantParam  string
		wantRetry  time.Duration
		wantMsg    string
	}{
		{name: "azure content filter", status: 400,
			body:       `{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}`,
			wantStatus: 400, wantCode: "content_filter", wantParam: "prompt", wantMsg: "The response was filtered"},
		{name: "azure 429 string code and Retry-After", status: 429, header: http.Header{"Retry-After": {"6"}},
			body:       `{"error":{"code":"429","message":"Requests ... Please retry after 6 seconds."}}`,
			wantStatus: 429, wantCode: "rate_limit_exceeded", wantRetry: 6 * time.Second, wantMsg: "Please retry after 6 seconds"},
		{name: "retry-after-ms wins", status: 429, header: http.Header{"Retry-After": {"6"}, "Retry-After-Ms": {"1500"}},
			body: `{"error":{"message":"slow down","code":"rate_limit_exceeded"}}`, wantStatus: 429, wantCode: "rate_limit_exceeded", wantRetry: 1500 * time.Millisecond},
		{name: "retry-after as HTTP date", status: 503, header: http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}},
			body: `{"error":{"message":"busy"}}`, wantStatus: 503, wantRetry: time.Hour},
		{name: "vLLM top-level error", status: 400, body: `{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}`,
			wantStatus: 400, wantMsg: "max_tokens is too large"},
		{name: "ollama string error", status: 404, body: `{"error":"model \"llama9\" not found, try pulling it first"}`,
			wantStatus: 502, wantCode: "upstream_not_found", wantMsg: "try pulling it first"},
		{name: "html body", status: 502, body: `<html><body>Bad Gateway</body></html>`, wantStatus: 502, wantMsg: "<html>"},
		{name: "403 names provider", status: 403, body: `{"error":{"message":"Forbidden"}}`, wantStatus: 502, wantCode: "upstream_auth_failed", wantMsg: "credentials for azure"},
		{name: "empty body", status: 500, body: ``, wantStatus: 502, wantMsg: "Internal Server Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: tt.header}
			if resp.Header == nil {
				resp.Header = http.Header{}
			}
			e := openai.ErrorFromResponse(target, resp, []byte(tt.body))
			if e.Status != tt.wantStatus || e.Code != tt.wantCode || e.Param != tt.wantParam || !e.Upstream {
				t.Errorf("got %d code=%q param=%q upstream=%v; want %d code=%q param=%q", e.Status, e.Code, e.Param, e.Upstream, tt.wantStatus, tt.wantCode, tt.wantParam)
			}
			// An HTTP date is read against the clock, so allow it to have aged.
			slack := time.Duration(0)
			if tt.wantRetry >= time.Minute {
				slack = 2 * time.Second
			}
			if d := tt.wantRetry - e.RetryAfter; d < 0 || d > slack {
				t.Errorf("retry after = %v; want %v", e.RetryAfter, tt.wantRetry)
			}
			if !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("message %q lacks %q", e.Message, tt.wantMsg)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    any
		wantErr string
	}{
		{"openai defaults", &openai.Options{APIKey: "k"}, ""},
		{"compatible needs base_url", &openai.CompatibleOptions{}, "base_url is required"},
		{"compatible without key", &openai.CompatibleOptions{Options: openai.Options{BaseURL: "http://localhost:11434/v1"}}, ""},
		{"bad scheme", &openai.Options{BaseURL: "ftp://x/v1"}, "must start with https://"},
		{"credentials in URL are not echoed", &openai.Options{BaseURL: "https://user:hunter2@x/v1"}, "must not carry credentials"},
		{"query", &openai.Options{BaseURL: "https://x/v1?a=b"}, "query"},
		{"auth header with key", &openai.Options{APIKey: "k", Headers: map[string]string{"authorization": "x"}}, "Authorization cannot be set"},
		{"bad header name", &openai.Options{Headers: map[string]string{"a b": "x"}}, "not a valid HTTP header name"},
		{"negative timeout", &openai.Options{Timeout: -time.Second}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.(provider.Validator).Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v; want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v; want %q", err, tt.wantErr)
			case err != nil && strings.Contains(err.Error(), "hunter2"):
				t.Errorf("Validate echoes a secret: %v", err)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	for _, name := range []string{openai.Name, openai.CompatibleName} {
		f, ok := provider.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		opts := f.NewOptions()
		if _, ok := opts.(provider.Validator); !ok {
			t.Errorf("%s options %T have no Validate", name, opts)
		}
		p, err := f.New(provider.Config{Deployment: provider.Deployment{Name: "d", Model: "m"}, Options: opts, HTTPClient: http.DefaultClient, Logger: slog.New(slog.DiscardHandler)})
		if err != nil || p == nil {
			t.Errorf("%s New = %v, %v", name, p, err)
		}
		if _, ok := p.(provider.Embedder); !ok {
			t.Errorf("%s provider is not an Embedder", name)
		}
	}
}
