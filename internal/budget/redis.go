package budget

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configures NewRedisStore.
type RedisOptions struct {
	// Prefix starts every key, so several gateways (or tests) can share a
	// Redis. Default "switchyard:".
	Prefix string
	// Retain is how long counters outlive their period, for late settles
	// and reporting. Default 48h.
	Retain time.Duration
}

// redisStore keeps counters in Redis so that every replica enforces the
// same totals. Each budget period is a hash (spent, reserved, alerted,
// seeded, and r:<id> = amount per reservation) and a sorted set of
// reservation ids by expiry, which lets a reserve purge reservations of
// crashed replicas before checking room.
//
// Scripts touch the keys of several budgets at once, so on Redis Cluster
// all of a request's budgets must hash to one slot (put a {hash tag} in
// Prefix).
type redisStore struct {
	rdb    redis.UniversalClient
	prefix string
	retain time.Duration
}

// NewRedisStore returns a Store shared by every replica using rdb.
func NewRedisStore(rdb redis.UniversalClient, o RedisOptions) Store {
	if o.Prefix == "" {
		o.Prefix = "switchyard:"
	}
	if o.Retain <= 0 {
		o.Retain = 48 * time.Hour
	}
	return &redisStore{rdb: rdb, prefix: o.Prefix, retain: o.Retain}
}

// purgeLua drops expired reservations of hash h / zset z; shared by the
// scripts below.
const purgeLua = `
local function purge(h, z, now)
  local dead = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, rid in ipairs(dead) do
    local a = redis.call('HGET', h, 'r:' .. rid)
    if a then
      redis.call('HINCRBY', h, 'reserved', -tonumber(a))
      redis.call('HDEL', h, 'r:' .. rid)
    end
  end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
end
`

// reserveScript: KEYS = h1, z1, h2, z2, ...; ARGV = now_ms, id, amount,
// expires_ms, then per line limit, hard (1|0), key_ttl_ms.
var reserveScript = redis.NewScript(purgeLua + `
local now, id, amount, expires = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local n = #KEYS / 2
for i = 1, n do
  local h, z = KEYS[2*i-1], KEYS[2*i]
  purge(h, z, now)
  local b = 4 + (i-1)*3
  if ARGV[b+2] == '1' then
    local v = redis.call('HMGET', h, 'spent', 'reserved')
    local spent, reserved = tonumber(v[1]) or 0, tonumber(v[2]) or 0
    if spent + reserved + amount > tonumber(ARGV[b+1]) then
      return {i, spent, reserved}
    end
  end
end
for i = 1, n do
  local h, z = KEYS[2*i-1], KEYS[2*i]
  local b = 4 + (i-1)*3
  redis.call('HINCRBY', h, 'reserved', ARGV[3])
  redis.call('HINCRBY', h, 'r:' .. id, ARGV[3])
  redis.call('ZADD', z, expires, id)
  redis.call('PEXPIRE', h, ARGV[b+3])
  redis.call('PEXPIRE', z, ARGV[b+3])
end
return {0}
`)

// settleScript: KEYS as reserve; ARGV = id, actual, shrink,
// shrink_expires_ms, then per line limit, soft (1|0), key_ttl_ms. Returns
// {i, spent, ...} for soft lines crossed for the first time in their
// period. actual "-" releases; shrink >= 0 gives back only that much of a
// lease, -1 all of a reservation.
var settleScript = redis.NewScript(`
local id, actual, shrink = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n = #KEYS / 2
local crossed = {}
for i = 1, n do
  local h, z = KEYS[2*i-1], KEYS[2*i]
  local b = 4 + (i-1)*3
  local a = tonumber(redis.call('HGET', h, 'r:' .. id))
  if a then
    if shrink >= 0 and a > shrink then
      redis.call('HINCRBY', h, 'reserved', -shrink)
      redis.call('HINCRBY', h, 'r:' .. id, -shrink)
      redis.call('ZADD', z, ARGV[4], id)
    else
      redis.call('HINCRBY', h, 'reserved', -a)
      redis.call('HDEL', h, 'r:' .. id)
      redis.call('ZREM', z, id)
    end
  end
  if actual ~= '-' then
    local spent = redis.call('HINCRBY', h, 'spent', actual)
    if redis.call('PTTL', h) < 0 then redis.call('PEXPIRE', h, ARGV[b+3]) end
    if ARGV[b+2] == '1' and spent >= tonumber(ARGV[b+1]) and redis.call('HSETNX', h, 'alerted', '1') == 1 then
      table.insert(crossed, i)
      table.insert(crossed, spent)
    end
  end
end
return crossed
`)

// seedScript: KEYS = h; ARGV = spent, mode ("seed" adds once, "set"
// overwrites), key_ttl_ms.
var seedScript = redis.NewScript(`
local h = KEYS[1]
if ARGV[2] == 'set' then
  redis.call('HSET', h, 'spent', ARGV[1], 'seeded', '1')
elseif redis.call('HSETNX', h, 'seeded', '1') == 1 then
  redis.call('HINCRBY', h, 'spent', ARGV[1])
end
if redis.call('PTTL', h) < 0 then redis.call('PEXPIRE', h, ARGV[3]) end
return 1
`)

func (s *redisStore) hashKey(l Line) string {
	return s.prefix + "budget:" + l.BudgetID + ":" + strconv.FormatInt(l.PeriodStart.Unix(), 10)
}

// ttl is how long a period's keys should live, seen from now on the
// caller's clock: relative, so a replica's clock skew against the Redis
// server does not matter. Without a clock reading or a known end
// (Reconcile of an arbitrary period) keys live a long month plus Retain.
func (s *redisStore) ttl(l Line, now time.Time) string {
	d := 32*24*time.Hour + s.retain
	if !now.IsZero() && !l.PeriodEnd.IsZero() {
		d = max(l.PeriodEnd.Sub(now), 0) + s.retain
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

func (s *redisStore) keysAndArgs(lines []Line, now time.Time, args []any, flag Mode) ([]string, []any) {
	keys := make([]string, 0, 2*len(lines))
	for _, l := range lines {
		h := s.hashKey(l)
		keys = append(keys, h, h+":r")
		on := "0"
		if l.Mode == flag {
			on = "1"
		}
		args = append(args, l.Limit, on, s.ttl(l, now))
	}
	return keys, args
}

func (s *redisStore) Reserve(ctx context.Context, r ReserveRequest) (Denial, error) {
	keys, args := s.keysAndArgs(r.Lines, r.Now, []any{r.Now.UnixMilli(), r.ID, r.Amount, r.Expires.UnixMilli()}, ModeHard)
	v, err := reserveScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return Denial{}, err
	}
	if len(v) == 3 && v[0] > 0 {
		return Denial{Index: int(v[0]) - 1, Spent: v[1], Reserved: v[2]}, nil
	}
	return Denial{Index: -1}, nil
}

func (s *redisStore) Settle(ctx context.Context, r SettleRequest) ([]Crossed, error) {
	shrink := int64(-1)
	if r.Lease {
		shrink = max(r.Shrink, 0)
	}
	keys, args := s.keysAndArgs(r.Lines, r.Now, []any{r.ID, r.Actual, shrink, r.Expires.UnixMilli()}, ModeSoft)
	v, err := settleScript.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	var out []Crossed
	for i := 0; i+1 < len(v); i += 2 {
		out = append(out, Crossed{Index: int(v[i]) - 1, Spent: v[i+1]})
	}
	return out, nil
}

func (s *redisStore) Release(ctx context.Context, r SettleRequest) error {
	keys, args := s.keysAndArgs(r.Lines, r.Now, []any{r.ID, "-", -1, 0}, ModeSoft)
	return settleScript.Run(ctx, s.rdb, keys, args...).Err()
}

func (s *redisStore) Seed(ctx context.Context, l Line, spent int64) error {
	return seedScript.Run(ctx, s.rdb, []string{s.hashKey(l)}, spent, "seed", s.ttl(l, time.Time{})).Err()
}

func (s *redisStore) Reconcile(ctx context.Context, l Line, spent int64) error {
	return seedScript.Run(ctx, s.rdb, []string{s.hashKey(l)}, spent, "set", s.ttl(l, time.Time{})).Err()
}

func (s *redisStore) Usage(ctx context.Context, l Line) (spent, reserved int64, err error) {
	v, err := s.rdb.HMGet(ctx, s.hashKey(l), "spent", "reserved").Result()
	if err != nil {
		return 0, 0, err
	}
	parse := func(x any) (int64, error) {
		str, ok := x.(string)
		if !ok {
			return 0, nil
		}
		n, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("budget counter %q is not an integer", str)
		}
		return n, nil
	}
	if spent, err = parse(v[0]); err != nil {
		return 0, 0, err
	}
	reserved, err = parse(v[1])
	return spent, reserved, err
}

var _ Store = (*redisStore)(nil)
