package ratelimit

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// window is the span a per-minute limit refills over, in microseconds:
// both backends keep time in microseconds so they agree to the tick.
const window = 60e6

// Limits are per-minute limits; zero means unlimited.
type Limits struct {
	RPM int `yaml:"rpm" json:"rpm,omitempty"`
	TPM int `yaml:"tpm" json:"tpm,omitempty"`
}

// Check is one subject's limits, e.g. the key's or the team's.
type Check struct {
	// Subject names the counter, e.g. "key:k_123" or "team:t_9".
	Subject string
	Limits  Limits
}

// Result is the outcome of a check and what the client is told about it.
// With several checks, each dimension reports the subject closest to its
// limit.
type Result struct {
	Allowed bool
	// LimitRequests is 0 when no request limit applies (headers omitted).
	LimitRequests     int
	RemainingRequests int
	// ResetRequests is how long until the request allowance is full again.
	ResetRequests time.Duration
	// LimitTokens is 0 when no token limit applies (headers omitted).
	LimitTokens     int
	RemainingTokens int
	ResetTokens     time.Duration
	// RetryAfter is how long a refused client should wait.
	RetryAfter time.Duration
	// Degraded is true when Redis was unreachable and this node's own
	// counters decided (fail-open): limits hold per replica only.
	Degraded bool
}

// Limiter checks and charges rate limits. Implementations are safe for
// concurrent use.
type Limiter interface {
	// Allow checks one subject: it admits a request estimated at tokens
	// tokens and charges it, or charges nothing.
	Allow(ctx context.Context, subject string, limits Limits, tokens int) (Result, error)
	// AllowAll checks several subjects atomically: the request is charged
	// to all of them or to none.
	AllowAll(ctx context.Context, checks []Check, tokens int) (Result, error)
	// AddTokens charges n more tokens (negative refunds) to subject once
	// the response tells the real count; the difference from the estimate
	// given to Allow. It never refuses: an overrun becomes a wait for the
	// next request.
	AddTokens(ctx context.Context, subject string, n int) error
}

// Headers writes OpenAI's x-ratelimit-* headers for the limits that
// apply. The names are stored in canonical form directly: Set would
// canonicalise (and allocate) six names on every response.
func (r Result) Headers(h http.Header) {
	// The values share one backing array: a slice each was six
	// allocations on every response.
	var vs []string
	if r.LimitRequests > 0 || r.LimitTokens > 0 {
		vs = make([]string, 0, 6)
	}
	set := func(name, v string) {
		vs = append(vs, v)
		h[name] = vs[len(vs)-1 : len(vs) : len(vs)]
	}
	if r.LimitRequests > 0 {
		set("X-Ratelimit-Limit-Requests", strconv.Itoa(r.LimitRequests))
		set("X-Ratelimit-Remaining-Requests", strconv.Itoa(max(r.RemainingRequests, 0)))
		set("X-Ratelimit-Reset-Requests", formatReset(r.ResetRequests))
	}
	if r.LimitTokens > 0 {
		set("X-Ratelimit-Limit-Tokens", strconv.Itoa(r.LimitTokens))
		set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(max(r.RemainingTokens, 0)))
		set("X-Ratelimit-Reset-Tokens", formatReset(r.ResetTokens))
	}
}

// formatReset renders a duration the way OpenAI does ("1s", "6m0s",
// "20ms"), rounded up to the millisecond so it never promises too early.
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return (((d + time.Millisecond - 1) / time.Millisecond) * time.Millisecond).String()
}

// RetryAfterSeconds is the Retry-After header value for a refusal: whole
// seconds, rounded up, at least 1.
func (r Result) RetryAfterSeconds() int {
	return max(int(math.Ceil(r.RetryAfter.Seconds())), 1)
}

// LLMError renders a refusal as the 429 the client sees.
func (r Result) LLMError() *llm.Error {
	what, limit := "requests", r.LimitRequests
	if r.LimitTokens > 0 && (r.LimitRequests == 0 || r.RemainingRequests > 0) {
		what, limit = "tokens", r.LimitTokens
	}
	return &llm.Error{
		Status: http.StatusTooManyRequests, Type: llm.TypeRateLimit, Code: "rate_limit_exceeded",
		Message: fmt.Sprintf("Rate limit reached for %s per minute (limit %d). Please try again in %s, or ask an administrator to raise the limit.",
			what, limit, formatReset(r.RetryAfter)),
		RetryAfter: time.Duration(r.RetryAfterSeconds()) * time.Second,
	}
}

// TooLargeError says a request needs more tokens than a whole minute's
// allowance, so waiting would never help.
type TooLargeError struct {
	Subject   string
	Limit     int
	Requested int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("request too large: it needs %d tokens but %s is limited to %d tokens per minute; shorten the prompt or lower max_tokens", e.Requested, e.Subject, e.Limit)
}

// LLMError renders the refusal as a 429 without a retry hint.
func (e *TooLargeError) LLMError() *llm.Error {
	return &llm.Error{Status: http.StatusTooManyRequests, Type: llm.TypeRateLimit, Code: "rate_limit_exceeded", Message: e.Error()}
}

// UnavailableError is returned by a fail-closed Redis limiter when Redis
// is unreachable; the gateway answers 503.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string {
	return "rate limiter unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// LLMError renders the outage as a 503.
func (e *UnavailableError) LLMError() *llm.Error {
	return &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeAPI, Code: "rate_limiter_unavailable",
		Message: "The gateway cannot check rate limits right now; retry shortly.", RetryAfter: time.Second}
}

// tooLarge rejects checks whose token limit cannot fit tokens at all.
func tooLarge(checks []Check, tokens int) (Result, error) {
	for _, c := range checks {
		if c.Limits.TPM > 0 && tokens > c.Limits.TPM {
			return Result{LimitTokens: c.Limits.TPM}, &TooLargeError{Subject: c.Subject, Limit: c.Limits.TPM, Requested: tokens}
		}
	}
	return Result{}, nil
}

// level is one subject's state in microsecond time: the allowance left in
// each bucket (tokens may go negative after AddTokens) at time ts.
type level struct {
	req, tok float64
	ts       int64
	rpm, tpm int // the limits last checked, for AddTokens
}

// dim is one bucket's verdict for one check.
type dim struct {
	limit      int
	remaining  float64
	resetUS    float64
	retryUS    float64
	sufficient bool
}

// refill brings a bucket of capacity c (per minute) from lv at t to now.
func refill(lv float64, c int, elapsedUS float64) float64 {
	return math.Min(float64(c), lv+elapsedUS*float64(c)/window)
}

func judge(lv float64, c int, need float64) dim {
	if c <= 0 {
		return dim{sufficient: true}
	}
	d := dim{limit: c, remaining: lv, sufficient: lv-need >= 0}
	if !d.sufficient {
		d.retryUS = (need - lv) * window / float64(c)
	}
	return d
}

// after is the dimension once need is charged.
func (d dim) after(need float64) dim {
	if d.limit == 0 {
		return d
	}
	d.remaining -= need
	d.resetUS = (float64(d.limit) - d.remaining) * window / float64(d.limit)
	return d
}

// merge folds one check's dimensions into r, keeping the tighter one.
func merge(r *Result, req, tok dim) {
	us := func(f float64) time.Duration { return time.Duration(math.Ceil(f)) * time.Microsecond }
	if req.limit > 0 && (r.LimitRequests == 0 || int(math.Floor(req.remaining)) < r.RemainingRequests) {
		r.LimitRequests, r.RemainingRequests, r.ResetRequests = req.limit, int(math.Floor(req.remaining)), us(req.resetUS)
	}
	if tok.limit > 0 && (r.LimitTokens == 0 || int(math.Floor(tok.remaining)) < r.RemainingTokens) {
		r.LimitTokens, r.RemainingTokens, r.ResetTokens = tok.limit, int(math.Floor(tok.remaining)), us(tok.resetUS)
	}
	r.RetryAfter = max(r.RetryAfter, us(req.retryUS), us(tok.retryUS))
}
