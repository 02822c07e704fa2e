package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// Notifier tells approvers that an approval is waiting. Notify runs in
// the background and must return within its own timeout.
type Notifier interface {
	Notify(ctx context.Context, a store.Approval)
}

// Webhooks posts new approvals to a generic webhook (the approval as JSON,
// without the held answer) and to a Slack-compatible incoming webhook
// ({"text": "..."}). Failures are logged: a lost notification leaves the
// approval listed in the admin API.
type Webhooks struct {
	// URL receives {"event": "approval.pending", "approval": {...}}; or "".
	URL string
	// SlackURL receives {"text": "..."}; or "".
	SlackURL string
	// Timeout bounds each post. Default 5s.
	Timeout time.Duration
	// Client sends the posts; nil is http.DefaultClient.
	Client *http.Client
	// Logger records failures; nil discards.
	Logger *slog.Logger
}

// Notify implements Notifier.
func (w *Webhooks) Notify(ctx context.Context, a store.Approval) {
	a.Payload = nil // the held answer may carry what the approval guards
	if w.URL != "" {
		w.post(ctx, w.URL, map[string]any{"event": "approval.pending", "approval": a})
	}
	if w.SlackURL != "" {
		w.post(ctx, w.SlackURL, map[string]string{"text": SlackText(a)})
	}
}

// SlackText is the one-line summary sent to Slack.
func SlackText(a store.Approval) string {
	what := "a request"
	if a.Tool != "" {
		what = "tool call `" + a.Tool + "`"
	}
	who := a.KeyID
	if a.TeamID != "" {
		who += " (team " + a.TeamID + ")"
	}
	return fmt.Sprintf("Approval %s needed: %s by key %s. Reason: %s. Arguments: %s. Decide before %s: POST /admin/v1/approvals/%s/approve or /deny.",
		a.ID, what, who, a.Reason, a.ArgumentsRedacted, a.ExpiresAt.UTC().Format(time.RFC3339), a.ID)
}

func (w *Webhooks) post(ctx context.Context, url string, body any) {
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := json.Marshal(body)
	if err != nil {
		log.Error("approval notification: encoding", "error", err)
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		log.Error("approval notification: bad webhook URL", "error", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		log.Warn("approval notification failed", "error", err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		log.Warn("approval notification refused", "status", resp.StatusCode)
	}
}
