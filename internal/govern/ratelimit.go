package govern

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/ratelimit"
)

// RateLimit is the admission stage enforcing requests and tokens per
// minute for the caller's key (the key's RPM/TPM) and its team (config
// rate_limits.teams), atomically: a request is charged to both or
// refused. Every answer carries OpenAI's x-ratelimit-* headers for the
// tighter of the two.
//
// Tokens are charged before the call at the request's estimated size
// (prompt estimate plus max_tokens) and corrected in After with the
// difference from the real count.
type RateLimit struct {
	limiter ratelimit.Limiter
	teams   map[string]ratelimit.Limits
	tok     *Tokenizer
	log     *slog.Logger
	// degraded is set while a fail-open limiter decides on local counters.
	degraded atomic.Bool
	settle   *settler // runs token corrections; nil runs them inline
}

// Degraded reports whether the last check fell back to this node's own
// counters because Redis was unreachable.
func (s *RateLimit) Degraded() bool { return s.degraded.Load() }

// NewRateLimit returns the stage. teams maps team ids to their shared
// limits; tok estimates usage the provider did not report.
func NewRateLimit(l ratelimit.Limiter, teams map[string]ratelimit.Limits, tok *Tokenizer, log *slog.Logger) *RateLimit {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RateLimit{limiter: l, teams: teams, tok: tok, log: log}
}

// Name implements gateway.Stage.
func (*RateLimit) Name() string { return "ratelimit" }

type rateCharge struct {
	checks []ratelimit.Check
	tokens int
}

// afterTimeout bounds the Redis calls an After makes: After must not hold
// the request up for long, and a lost correction costs only accuracy.
const afterTimeout = time.Second

// Before charges the call or refuses it with a 429 (or a 503 when a
// fail-closed Redis is unreachable).
func (s *RateLimit) Before(ctx context.Context, c *gateway.Call) error {
	caller := c.Info.Caller
	if caller == nil {
		return nil
	}
	checks := make([]ratelimit.Check, 0, 2)
	if caller.RPM > 0 || caller.TPM > 0 {
		checks = append(checks, ratelimit.Check{Subject: "key:" + caller.KeyID, Limits: ratelimit.Limits{RPM: caller.RPM, TPM: caller.TPM}})
	}
	if l := s.teamLimits(caller); caller.TeamID != "" && (l.RPM > 0 || l.TPM > 0) {
		checks = append(checks, ratelimit.Check{Subject: "team:" + caller.TeamID, Limits: l})
	}
	if len(checks) == 0 {
		return nil
	}
	tokens := c.Requirements.EstimatedInputTokens + max(c.Requirements.MaxOutputTokens, 0)
	res, err := s.limiter.AllowAll(ctx, checks, tokens)
	if err != nil {
		return limiterError(ctx, err)
	}
	s.degraded.Store(res.Degraded)
	res.Headers(c.Headers)
	if !res.Allowed {
		return res.LLMError()
	}
	c.Set(keyRateLimit, &rateCharge{checks: checks, tokens: tokens})
	return nil
}

// teamLimits are the limits the caller's team shares: those of its record
// in the store and those of the config file, the tighter of each where
// both set one.
func (s *RateLimit) teamLimits(caller *gateway.Caller) ratelimit.Limits {
	cfg := s.teams[caller.TeamID]
	return ratelimit.Limits{RPM: tighter(cfg.RPM, caller.TeamRPM), TPM: tighter(cfg.TPM, caller.TeamTPM)}
}

// tighter returns the smaller of two limits where 0 means none.
func tighter(a, b int) int {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}

func limiterError(ctx context.Context, err error) error {
	var tl *ratelimit.TooLargeError
	var un *ratelimit.UnavailableError
	switch {
	case errors.As(err, &tl):
		return tl.LLMError()
	case errors.As(err, &un):
		return un.LLMError()
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeAPI, Code: "rate_limiter_unavailable",
		Message: "The gateway cannot check rate limits right now (" + err.Error() + "); retry shortly.", RetryAfter: time.Second}
}

// After charges the difference between the estimate and the real token
// count (a refund when the call never reached a provider).
func (s *RateLimit) After(ctx context.Context, c *gateway.Call) {
	ch, _ := c.Get(keyRateLimit).(*rateCharge)
	if ch == nil {
		return
	}
	u := UsageOf(c, s.tok)
	diff := u.PromptTokens + u.CompletionTokens - ch.tokens
	if diff == 0 {
		return
	}
	s.settle.run(ctx, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, afterTimeout)
		defer cancel()
		for _, chk := range ch.checks {
			if chk.Limits.TPM <= 0 {
				continue
			}
			if err := s.limiter.AddTokens(ctx, chk.Subject, diff); err != nil {
				s.log.Warn("govern: rate limit token correction lost", "subject", chk.Subject, "tokens", diff, "err", err)
			}
		}
	})
}
