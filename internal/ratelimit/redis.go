package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// FailureMode is what a Redis limiter does when Redis is unreachable.
type FailureMode string

// Failure modes.
const (
	// FailOpen falls back to this node's own counters and marks results
	// Degraded: limits then hold per replica, not in total.
	FailOpen FailureMode = "open"
	// FailClosed returns an *UnavailableError, which the gateway answers
	// with 503.
	FailClosed FailureMode = "closed"
)

// RedisOptions configures NewRedis.
type RedisOptions struct {
	// Prefix starts every key. Default "switchyard:".
	Prefix string
	// OnFailure is FailOpen (default) or FailClosed.
	OnFailure FailureMode
	// Now is the clock; or nil to use the Redis server's clock, which
	// every replica shares. Tests inject a fixed clock.
	Now func() time.Time
	// Logger receives fail-open fallbacks. Default slog.Default().
	Logger *slog.Logger
}

// redisLimiter keeps each subject's buckets in a Redis hash (req, tok,
// ts, rpm, tpm) and updates them with one script per call, so every
// replica sees the same counts.
type redisLimiter struct {
	rdb      redis.UniversalClient
	o        RedisOptions
	fallback Limiter
}

// NewRedis returns a Limiter shared by every replica using rdb.
func NewRedis(rdb redis.UniversalClient, o RedisOptions) Limiter {
	if o.Prefix == "" {
		o.Prefix = "switchyard:"
	}
	if o.OnFailure == "" {
		o.OnFailure = FailOpen
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &redisLimiter{rdb: rdb, o: o, fallback: NewMemory(MemoryOptions{Now: o.Now})}
}

// allowScript mirrors memoryLimiter.AllowAll. KEYS = one hash per
// subject; ARGV = now_us (0: use the server clock), tokens, then rpm, tpm
// per key. Returns allowed, then per key: remaining req, reset req us,
// retry req us, remaining tok, reset tok us, retry tok us.
var allowScript = redis.NewScript(`
local W = 60000000
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local need = tonumber(ARGV[2])
local function refill(lv, c, el)
  return math.min(c, lv + el * c / W)
end
local st = {}
local allowed = 1
for i, k in ipairs(KEYS) do
  local rpm, tpm = tonumber(ARGV[1+2*i]), tonumber(ARGV[2+2*i])
  local v = redis.call('HMGET', k, 'req', 'tok', 'ts')
  local req, tok, ts = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if not ts then req, tok, ts = rpm, tpm, now end
  local el = math.max(now - ts, 0)
  req, tok = refill(req, rpm, el), refill(tok, tpm, el)
  st[i] = {req, tok, rpm, tpm, math.max(ts, now)}
  if (rpm > 0 and req < 1) or (tpm > 0 and tok - need < 0) then allowed = 0 end
end
local out = {allowed}
for i, k in ipairs(KEYS) do
  local req, tok, rpm, tpm, ts = st[i][1], st[i][2], st[i][3], st[i][4], st[i][5]
  local rr, rt = 0, 0
  if allowed == 0 then
    if rpm > 0 and req < 1 then rr = (1 - req) * W / rpm end
    if tpm > 0 and tok - need < 0 then rt = (need - tok) * W / tpm end
  else
    if rpm > 0 then req = req - 1 end
    if tpm > 0 then tok = tok - need end
  end
  local full = 0
  local resetr, resett = 0, 0
  if rpm > 0 then resetr = (rpm - req) * W / rpm end
  if tpm > 0 then resett = (tpm - tok) * W / tpm end
  full = math.max(resetr, resett)
  redis.call('HSET', k, 'req', string.format('%.6f', req), 'tok', string.format('%.6f', tok),
    'ts', string.format('%.0f', ts), 'rpm', rpm, 'tpm', tpm)
  redis.call('PEXPIRE', k, math.ceil(full / 1000) + 1000)
  table.insert(out, math.floor(req))
  table.insert(out, math.ceil(resetr))
  table.insert(out, math.ceil(rr))
  table.insert(out, math.floor(tok))
  table.insert(out, math.ceil(resett))
  table.insert(out, math.ceil(rt))
end
return out
`)

// addScript charges n tokens to KEYS[1] if it exists. ARGV = now_us, n.
var addScript = redis.NewScript(`
local W = 60000000
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local v = redis.call('HMGET', KEYS[1], 'req', 'tok', 'ts', 'rpm', 'tpm')
local req, tok, ts, rpm, tpm = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]), tonumber(v[4]), tonumber(v[5])
if not ts or tpm <= 0 then return 0 end
local el = math.max(now - ts, 0)
req = math.min(rpm, req + el * rpm / W)
tok = math.min(tpm, tok + el * tpm / W) - tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'req', string.format('%.6f', req), 'tok', string.format('%.6f', tok), 'ts', string.format('%.0f', math.max(ts, now)))
local full = (tpm - tok) * W / tpm
if rpm > 0 then full = math.max(full, (rpm - req) * W / rpm) end
redis.call('PEXPIRE', KEYS[1], math.ceil(full / 1000) + 1000)
return 1
`)

func (l *redisLimiter) nowUS() int64 {
	if l.o.Now == nil {
		return 0
	}
	return l.o.Now().UnixMicro()
}

func (l *redisLimiter) Allow(ctx context.Context, subject string, limits Limits, tokens int) (Result, error) {
	return l.AllowAll(ctx, []Check{{Subject: subject, Limits: limits}}, tokens)
}

func (l *redisLimiter) AllowAll(ctx context.Context, checks []Check, tokens int) (Result, error) {
	if r, err := tooLarge(checks, tokens); err != nil {
		return r, err
	}
	keys := make([]string, len(checks))
	args := make([]any, 0, 2+2*len(checks))
	args = append(args, l.nowUS(), tokens)
	for i, c := range checks {
		keys[i] = l.o.Prefix + "rl:" + c.Subject
		args = append(args, max(c.Limits.RPM, 0), max(c.Limits.TPM, 0))
	}
	v, err := allowScript.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err == nil && len(v) != 1+6*len(checks) {
		err = errors.New("rate limit script returned a malformed reply")
	}
	if err != nil {
		return l.fail(ctx, checks, tokens, err)
	}
	res := Result{Allowed: v[0] == 1}
	for i, c := range checks {
		o := v[1+6*i:]
		req := dim{limit: c.Limits.RPM, remaining: float64(o[0]), resetUS: float64(o[1]), retryUS: float64(o[2])}
		tok := dim{limit: c.Limits.TPM, remaining: float64(o[3]), resetUS: float64(o[4]), retryUS: float64(o[5])}
		if req.limit <= 0 {
			req = dim{}
		}
		if tok.limit <= 0 {
			tok = dim{}
		}
		merge(&res, req, tok)
	}
	if res.Allowed {
		res.RetryAfter = 0
	}
	return res, nil
}

func (l *redisLimiter) fail(ctx context.Context, checks []Check, tokens int, err error) (Result, error) {
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	if l.o.OnFailure == FailClosed {
		return Result{}, &UnavailableError{Err: err}
	}
	l.o.Logger.Warn("rate limiter: Redis unreachable, using this node's counters", "err", err)
	r, ferr := l.fallback.AllowAll(ctx, checks, tokens)
	r.Degraded = true
	return r, ferr
}

func (l *redisLimiter) AddTokens(ctx context.Context, subject string, n int) error {
	err := addScript.Run(ctx, l.rdb, []string{l.o.Prefix + "rl:" + subject}, l.nowUS(), n).Err()
	if err == nil || errors.Is(err, redis.Nil) {
		return nil
	}
	if l.o.OnFailure == FailClosed {
		return &UnavailableError{Err: err}
	}
	return l.fallback.AddTokens(ctx, subject, n)
}

var _ Limiter = (*redisLimiter)(nil)
