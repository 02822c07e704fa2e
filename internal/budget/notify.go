package budget

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Alert says a soft budget's spend crossed its limit. It is sent once per
// budget per period.
type Alert struct {
	BudgetID    string     `json:"budget_id"`
	Scope       ScopeKind  `json:"scope"`
	ScopeID     string     `json:"scope_id"`
	Period      PeriodKind `json:"period"`
	PeriodStart time.Time  `json:"period_start"`
	PeriodEnd   time.Time  `json:"period_end"`
	// LimitMicroUSD and SpentMicroUSD are in micro-USD.
	LimitMicroUSD int64     `json:"limit_micro_usd"`
	SpentMicroUSD int64     `json:"spent_micro_usd"`
	At            time.Time `json:"at"`
	// Webhook is the budget's own alert URL, or "".
	Webhook string `json:"-"`
}

// Notifier delivers alerts. The Manager calls it from a background
// goroutine, never on a request's path.
type Notifier interface {
	Notify(ctx context.Context, a Alert) error
}

// WebhookOptions configures NewWebhookNotifier.
type WebhookOptions struct {
	// DefaultURL receives alerts of budgets without their own webhook;
	// empty drops them.
	DefaultURL string
	// Client sends the POSTs. Default http.DefaultClient.
	Client *http.Client
	// Timeout bounds one delivery. Default 5s.
	Timeout time.Duration
}

// NewWebhookNotifier returns a Notifier that POSTs each alert as JSON.
func NewWebhookNotifier(o WebhookOptions) Notifier {
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	return &webhook{o: o}
}

type webhook struct{ o WebhookOptions }

func (w *webhook) Notify(ctx context.Context, a Alert) error {
	url := a.Webhook
	if url == "" {
		url = w.o.DefaultURL
	}
	if url == "" {
		return nil
	}
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("budget alert webhook %q: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "switchyard-budget-alert")
	resp, err := w.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("budget alert webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("budget alert webhook %s answered %s", url, resp.Status)
	}
	return nil
}
