package dlp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// HookConfig configures an external DLP service that the gateway asks
// in addition to the built-in detectors.
type HookConfig struct {
	// URL receives POST {"texts": ["...", ...]} and answers
	// {"action": "allow"|"alert"|"block", "reason": "...", "detectors": ["..."]}.
	URL string `yaml:"url"`
	// Timeout bounds one call. Default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// FailOpen lets the request through when the service fails (error,
	// timeout, non-2xx, malformed answer); otherwise it is blocked.
	// Default false: fail closed.
	FailOpen bool `yaml:"fail_open"`
	// Headers are sent with every call, e.g. an Authorization header.
	Headers map[string]string `yaml:"headers"`
}

// Verdict is the external service's answer.
type Verdict struct {
	// Action is allow, alert or block.
	Action Action `json:"action"`
	// Reason is the service's explanation, for audit; it is not shown to
	// clients verbatim.
	Reason string `json:"reason,omitempty"`
	// Detectors names what the service found.
	Detectors []string `json:"detectors,omitempty"`
	// FailedOpen is true when the service failed and FailOpen let the
	// request through; Reason then says why.
	FailedOpen bool `json:"-"`
}

// Hook calls an external DLP service. It is safe for concurrent use.
type Hook struct {
	cfg    HookConfig
	client *http.Client
}

// NewHook returns a Hook; client may be nil for http.DefaultClient.
func NewHook(cfg HookConfig, client *http.Client) (*Hook, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("dlp: hook: url is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Hook{cfg: cfg, client: client}, nil
}

// HookError is a failure to get a verdict from the service.
type HookError struct {
	// Err is the cause (transport error, status, decoding error).
	Err error
}

func (e *HookError) Error() string {
	return "dlp: external check failed: " + e.Err.Error() + "; the request was refused because the DLP service is configured to fail closed"
}

func (e *HookError) Unwrap() error { return e.Err }

// Check sends texts to the service. On failure it returns, with FailOpen,
// an allow verdict marked FailedOpen and a nil error; without, a block
// verdict and a *HookError.
func (h *Hook) Check(ctx context.Context, texts []string) (Verdict, error) {
	v, err := h.call(ctx, texts)
	if err == nil {
		return v, nil
	}
	if h.cfg.FailOpen {
		return Verdict{Action: ActionAllow, Reason: "dlp service unavailable: " + err.Error(), FailedOpen: true}, nil
	}
	return Verdict{Action: ActionBlock, Reason: "dlp service unavailable"}, &HookError{Err: err}
}

func (h *Hook) call(ctx context.Context, texts []string) (Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	body, err := json.Marshal(struct {
		Texts []string `json:"texts"`
	}{texts})
	if err != nil {
		return Verdict{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return Verdict{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return Verdict{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Verdict{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	var v Verdict
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v); err != nil {
		return Verdict{}, fmt.Errorf("decoding the answer: %w", err)
	}
	switch v.Action {
	case ActionAllow, ActionAlert, ActionBlock:
		return v, nil
	}
	return Verdict{}, fmt.Errorf("answer has action %q; want allow, alert or block", v.Action)
}
