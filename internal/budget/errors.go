package budget

import (
	"fmt"
	"net/http"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/pricing"
)

// CodeBudgetExceeded is the error code clients see when a hard budget
// rejects a request.
const CodeBudgetExceeded = "budget_exceeded"

// ExceededError is returned by Reserve when a hard budget cannot cover a
// request's maximum cost. Find it with errors.As.
type ExceededError struct {
	BudgetID    string
	Scope       Scope
	Period      PeriodKind
	PeriodStart time.Time
	PeriodEnd   time.Time
	// Limit, Spent, Reserved (by requests in flight) and Requested (this
	// request's maximum cost) are in micro-USD.
	Limit, Spent, Reserved, Requested int64
	// Now is when the request was refused.
	Now time.Time
}

func (e *ExceededError) Error() string {
	return fmt.Sprintf("budget %s for %s (%s from %s) cannot cover this request: spent %s and %s reserved by requests in flight of a %s limit; this request could cost up to %s. Ask an administrator to raise the budget, lower max_tokens, or retry after %s",
		e.BudgetID, e.Scope, e.Period, e.PeriodStart.Format(time.RFC3339),
		pricing.FormatUSD(e.Spent), pricing.FormatUSD(e.Reserved), pricing.FormatUSD(e.Limit),
		pricing.FormatUSD(e.Requested), e.PeriodEnd.Format(time.RFC3339))
}

// RetryAfter is how long until the period resets.
func (e *ExceededError) RetryAfter() time.Duration {
	return max(e.PeriodEnd.Sub(e.Now), 0)
}

// LLMError renders the rejection as the 429 the client sees, with code
// "budget_exceeded".
func (e *ExceededError) LLMError() *llm.Error {
	return &llm.Error{
		Status:     http.StatusTooManyRequests,
		Type:       llm.TypeRateLimit,
		Code:       CodeBudgetExceeded,
		Message:    e.Error(),
		RetryAfter: e.RetryAfter(),
	}
}
