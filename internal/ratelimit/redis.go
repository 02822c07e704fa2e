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
	// Lease is how much of each limit a replica takes from the shared
	// bucket ahead of its requests, as a span of the limit's refill:
	// with the default 1s, up to 1/60 of a per-minute limit. Requests a
	// lease covers are decided without a round trip to Redis. A lease
	// takes at most an eighth of what the bucket holds, so near the limit
	// every request goes to Redis; what a replica does not use goes back
	// with its next round trip after Lease has passed. The replicas
	// together never admit more than the limit, but may admit up to one
	// lease per replica less for a while. Negative turns leasing off.
	Lease time.Duration
}

// redisLimiter keeps each subject's buckets in a Redis hash (req, tok,
// ts, rpm, tpm) and updates them with one script per call, so every
// replica sees the same counts.
type redisLimiter struct {
	rdb      redis.UniversalClient
	o        RedisOptions
	fallback Limiter
	leases   leases
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
	if o.Lease == 0 {
		o.Lease = defaultLease
	}
	l := &redisLimiter{rdb: rdb, o: o, fallback: NewMemory(MemoryOptions{Now: o.Now})}
	l.leases.span = max(o.Lease, 0)
	return l
}

// allowScript mirrors memoryLimiter.AllowAll, and moves leases (see
// lease) in the same step. KEYS = one hash per subject; ARGV = now_us (0:
// use the server clock), tokens, then per key: rpm, tpm, the requests and
// tokens a lease gives back, and the requests and tokens the next lease
// asks for. Returns allowed, then per key: remaining req, reset req us,
// retry req us, remaining tok, reset tok us, retry tok us (as if no lease
// were taken), requests and tokens leased.
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
  local b = 3 + 6 * (i - 1)
  local rpm, tpm = tonumber(ARGV[b]), tonumber(ARGV[b+1])
  local v = redis.call('HMGET', k, 'req', 'tok', 'ts')
  local req, tok, ts = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  if not ts then req, tok, ts = rpm, tpm, now end
  local el = math.max(now - ts, 0)
  req = math.min(rpm, refill(req, rpm, el) + tonumber(ARGV[b+2]))
  tok = math.min(tpm, refill(tok, tpm, el) + tonumber(ARGV[b+3]))
  st[i] = {req, tok, rpm, tpm, math.max(ts, now)}
  if (rpm > 0 and req < 1) or (tpm > 0 and tok - need < 0) then allowed = 0 end
end
local out = {allowed}
for i, k in ipairs(KEYS) do
  local b = 3 + 6 * (i - 1)
  local req, tok, rpm, tpm, ts = st[i][1], st[i][2], st[i][3], st[i][4], st[i][5]
  local rr, rt, gr, gt = 0, 0, 0, 0
  if allowed == 0 then
    if rpm > 0 and req < 1 then rr = (1 - req) * W / rpm end
    if tpm > 0 and tok - need < 0 then rt = (need - tok) * W / tpm end
  else
    if rpm > 0 then req = req - 1 end
    if tpm > 0 then tok = tok - need end
  end
  local resetr, resett = 0, 0
  if rpm > 0 then resetr = (rpm - req) * W / rpm end
  if tpm > 0 then resett = (tpm - tok) * W / tpm end
  table.insert(out, math.floor(req))
  table.insert(out, math.ceil(resetr))
  table.insert(out, math.ceil(rr))
  table.insert(out, math.floor(tok))
  table.insert(out, math.ceil(resett))
  table.insert(out, math.ceil(rt))
  -- A lease takes at most an eighth of what is left, so that near the
  -- limit every request is decided here, exactly.
  if allowed == 1 then
    if rpm > 0 then gr = math.max(math.min(tonumber(ARGV[b+4]), math.floor(req / 8)), 0) end
    if tpm > 0 then gt = math.max(math.min(tonumber(ARGV[b+5]), math.floor(tok / 8)), 0) end
    req, tok = req - gr, tok - gt
  end
  table.insert(out, gr)
  table.insert(out, gt)
  local full = 0
  if rpm > 0 then full = (rpm - req) * W / rpm end
  if tpm > 0 then full = math.max(full, (tpm - tok) * W / tpm) end
  redis.call('HSET', k, 'req', string.format('%.6f', req), 'tok', string.format('%.6f', tok),
    'ts', string.format('%.0f', ts), 'rpm', rpm, 'tpm', tpm)
  redis.call('PEXPIRE', k, math.ceil(full / 1000) + 1000)
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

// clock is the replica's own time, which leases expire by.
func (l *redisLimiter) clock() time.Time {
	if l.o.Now != nil {
		return l.o.Now()
	}
	return time.Now()
}

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
	now := l.clock()
	if r, ok := l.leases.take(checks, tokens, now); ok {
		l.leases.leased.Add(1)
		return r, nil
	}
	l.leases.shared.Add(1)
	l.leases.sweep(now)
	keys := make([]string, len(checks))
	trips := make([]trip, len(checks))
	args := make([]any, 0, 2+6*len(checks))
	args = append(args, l.nowUS(), tokens)
	for i, c := range checks {
		keys[i] = l.o.Prefix + "rl:" + c.Subject
		t := &trips[i]
		var wantReq, wantTok float64
		if l.leases.span > 0 {
			t.lease = l.leases.get(c.Subject)
			t.req, t.tok, t.ask = t.lease.begin()
			if t.ask {
				wantReq, wantTok = l.leases.size(c.Limits.RPM), l.leases.size(c.Limits.TPM)
			}
		}
		args = append(args, max(c.Limits.RPM, 0), max(c.Limits.TPM, 0), t.req, t.tok, wantReq, wantTok)
	}
	v, err := allowScript.Run(ctx, l.rdb, keys, args...).Int64Slice()
	if err == nil && len(v) != 1+8*len(checks) {
		err = errors.New("rate limit script returned a malformed reply")
	}
	if err != nil {
		for _, t := range trips {
			if t.lease != nil {
				t.lease.abort(t.req, t.tok, t.ask)
			}
		}
		return l.fail(ctx, checks, tokens, err)
	}
	res := Result{Allowed: v[0] == 1}
	for i, c := range checks {
		o := v[1+8*i:]
		req := dim{limit: c.Limits.RPM, remaining: float64(o[0]), resetUS: float64(o[1]), retryUS: float64(o[2])}
		tok := dim{limit: c.Limits.TPM, remaining: float64(o[3]), resetUS: float64(o[4]), retryUS: float64(o[5])}
		if req.limit <= 0 {
			req = dim{}
		}
		if tok.limit <= 0 {
			tok = dim{}
		}
		merge(&res, req, tok)
		if t := trips[i]; t.ask {
			gotReq, gotTok := float64(o[6]), float64(o[7])
			t.lease.grant(c.Limits, gotReq, gotTok, req.remaining-gotReq, tok.remaining-gotTok, now.Add(l.leases.span))
		}
	}
	if res.Allowed {
		res.RetryAfter = 0
		return res, nil
	}
	// A lease that arrived for a request racing this one may cover it.
	if r, ok := l.leases.take(checks, tokens, now); ok {
		return r, nil
	}
	return res, nil
}

// trip is one subject's part in a round trip: its lease, what the lease
// gives back, and whether it asks for a new one.
type trip struct {
	lease    *lease
	req, tok float64
	ask      bool
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
	if n = l.leases.addTokens(subject, n, l.clock()); n == 0 {
		return nil
	}
	err := addScript.Run(ctx, l.rdb, []string{l.o.Prefix + "rl:" + subject}, l.nowUS(), n).Err()
	if err == nil || errors.Is(err, redis.Nil) {
		return nil
	}
	if l.o.OnFailure == FailClosed {
		return &UnavailableError{Err: err}
	}
	return l.fallback.AddTokens(ctx, subject, n)
}

// Decisions implements DecisionCounter.
func (l *redisLimiter) Decisions() Decisions {
	return Decisions{Leased: l.leases.leased.Load(), Shared: l.leases.shared.Load()}
}

var (
	_ Limiter         = (*redisLimiter)(nil)
	_ DecisionCounter = (*redisLimiter)(nil)
)
