package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// Store is what the cache needs from the store.
type Store interface {
	KeyByHash(ctx context.Context, hash string) (store.Key, error)
	KeysChangedSince(ctx context.Context, t time.Time) ([]store.Key, error)
	ListTeams(ctx context.Context, orgID string) ([]store.Team, error)
}

// Options tune a KeyCache. Zero values take the documented defaults.
type Options struct {
	// Refresh is how often the change feed is polled. Default 500ms.
	Refresh time.Duration `yaml:"refresh"`
	// Overlap re-reads changes this far behind the newest UpdatedAt seen,
	// covering clock skew between replicas and late-committing writes.
	// Default 5s.
	Overlap time.Duration `yaml:"overlap"`
	// TeamRefresh is how often team restrictions are reloaded. Default 5s.
	TeamRefresh time.Duration `yaml:"team_refresh"`
	// NegativeTTL is how long an unknown hash is remembered as unknown so
	// repeated bad keys do not reach the store. Newly created keys arrive
	// through the change feed regardless. Default 2s.
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// FailOpen keeps serving cached keys while the store is unreachable.
	// When false (fail closed), every request fails with
	// ErrStoreUnavailable once the last good refresh is older than
	// StaleAfter. Default false.
	FailOpen bool `yaml:"fail_open"`
	// StaleAfter bounds how old the cache may get in fail-closed mode.
	// Default 10 x Refresh.
	StaleAfter time.Duration `yaml:"stale_after"`
	// Logger receives state changes (degraded/recovered); or nil for
	// slog.Default().
	Logger *slog.Logger `yaml:"-"`
	// Now is the clock; or nil for time.Now.
	Now func() time.Time `yaml:"-"`
}

func (o Options) withDefaults() Options {
	if o.Refresh <= 0 {
		o.Refresh = 500 * time.Millisecond
	}
	if o.Overlap <= 0 {
		o.Overlap = 5 * time.Second
	}
	if o.TeamRefresh <= 0 {
		o.TeamRefresh = 5 * time.Second
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = 2 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 10 * o.Refresh
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// maxNegative bounds the negative cache; past it the cache is cleared
// rather than grown, so a flood of random keys cannot exhaust memory.
const maxNegative = 100_000

type entry struct {
	key       store.Key
	principal *Principal
}

// snapshot is immutable once published; writers copy and swap.
type snapshot struct {
	byHash map[string]*entry
	teams  map[string]store.Team
}

// KeyCache authenticates secrets against an in-memory copy of the keys.
type KeyCache struct {
	st   Store
	opts Options

	cur  atomic.Pointer[snapshot]
	neg  sync.Map // hash -> time.Time expiry
	nNeg atomic.Int64

	lastOK   atomic.Int64 // unix nanos of the last good refresh
	degraded atomic.Bool

	mu        sync.Mutex // serialises writers of cur
	watermark time.Time  // guarded by mu
	lastTeams time.Time  // guarded by mu

	stop context.CancelFunc // or nil before Start
	done chan struct{}
}

// NewKeyCache returns an empty cache over st; call Start to load it.
func NewKeyCache(st Store, opts Options) *KeyCache {
	c := &KeyCache{st: st, opts: opts.withDefaults()}
	c.cur.Store(&snapshot{byHash: map[string]*entry{}, teams: map[string]store.Team{}})
	return c
}

// Start loads every key and team, then refreshes in the background until
// Stop. A failed initial load is returned and nothing is started.
func (c *KeyCache) Start(ctx context.Context) error {
	if err := c.Refresh(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.stop, c.done = cancel, make(chan struct{})
	go c.run(runCtx)
	return nil
}

// Stop ends the background refresh and waits for it.
func (c *KeyCache) Stop() {
	if c.stop == nil {
		return
	}
	c.stop()
	<-c.done
}

func (c *KeyCache) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.opts.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, max(c.opts.Refresh, time.Second))
			_ = c.Refresh(rctx) // state and logging handled inside
			cancel()
		}
	}
}

// Degraded reports whether the last refresh failed, i.e. the cache may
// miss recent changes.
func (c *KeyCache) Degraded() bool { return c.degraded.Load() }

// Len returns the number of cached keys.
func (c *KeyCache) Len() int { return len(c.cur.Load().byHash) }

// Refresh pulls the change feed once (teams too when due). Start and the
// background loop call it; tests may call it directly.
func (c *KeyCache) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	since := time.Time{}
	if !c.watermark.IsZero() {
		since = c.watermark.Add(-c.opts.Overlap)
	}
	keys, err := c.st.KeysChangedSince(ctx, since)
	var teams []store.Team
	teamsDue := c.lastTeams.IsZero() || now.Sub(c.lastTeams) >= c.opts.TeamRefresh
	if err == nil && teamsDue {
		teams, err = c.st.ListTeams(ctx, "")
	}
	if err != nil {
		if !c.degraded.Swap(true) {
			c.opts.Logger.Warn("auth: key store unreachable; serving cached keys", "fail_open", c.opts.FailOpen, "err", err)
		}
		return fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	old := c.cur.Load()
	next := old
	if teamsDue {
		c.lastTeams = now
		next = rebuildTeams(old, teams)
	}
	for _, k := range keys {
		if k.UpdatedAt.After(c.watermark) {
			c.watermark = k.UpdatedAt
		}
		if e, ok := next.byHash[k.Hash]; ok && e.key.UpdatedAt.Equal(k.UpdatedAt) {
			continue
		}
		if next == old {
			next = old.clone()
		}
		next.put(k)
		c.forgetNegative(k.Hash)
	}
	if next != old {
		c.cur.Store(next)
	}
	c.lastOK.Store(now.UnixNano())
	if c.degraded.Swap(false) {
		c.opts.Logger.Info("auth: key store reachable again", "keys", len(next.byHash))
	}
	return nil
}

func (s *snapshot) clone() *snapshot {
	n := &snapshot{byHash: make(map[string]*entry, len(s.byHash)+1), teams: s.teams}
	for h, e := range s.byHash {
		n.byHash[h] = e
	}
	return n
}

func (s *snapshot) put(k store.Key) {
	s.byHash[k.Hash] = &entry{key: k, principal: newPrincipal(k, s.teams[k.TeamID])}
}

func rebuildTeams(old *snapshot, teams []store.Team) *snapshot {
	n := &snapshot{byHash: make(map[string]*entry, len(old.byHash)), teams: make(map[string]store.Team, len(teams))}
	for _, t := range teams {
		n.teams[t.ID] = t
	}
	for _, e := range old.byHash {
		n.put(e.key)
	}
	return n
}

func (c *KeyCache) forgetNegative(hash string) {
	if _, ok := c.neg.LoadAndDelete(hash); ok {
		c.nNeg.Add(-1)
	}
}

func (c *KeyCache) rememberNegative(hash string, now time.Time) {
	if c.nNeg.Add(1) > maxNegative {
		c.neg.Clear()
		c.nNeg.Store(1)
	}
	c.neg.Store(hash, now.Add(c.opts.NegativeTTL))
}

// stale reports whether fail-closed mode must stop trusting the cache.
func (c *KeyCache) stale(now time.Time) bool {
	return !c.opts.FailOpen && now.Sub(time.Unix(0, c.lastOK.Load())) > c.opts.StaleAfter
}

// Authenticate resolves secret to a Principal. Errors wrap ErrInvalidKey,
// ErrExpiredKey, ErrRevokedKey or ErrStoreUnavailable (see HTTPStatus)
// and never contain the secret.
func (c *KeyCache) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	now := c.opts.Now()
	if !plausible(secret) {
		return nil, fmt.Errorf("%w: send a Switchyard virtual key (it starts with %q and has %d characters) as \"Authorization: Bearer <key>\"; ask your administrator for one", ErrInvalidKey, SecretPrefix, secretLen)
	}
	if c.stale(now) {
		return nil, fmt.Errorf("%w: keys cannot be verified right now; retry shortly", ErrStoreUnavailable)
	}
	hash := HashSecret(secret)
	if e, ok := c.cur.Load().byHash[hash]; ok {
		return check(e, now)
	}
	if exp, ok := c.neg.Load(hash); ok && now.Before(exp.(time.Time)) {
		return nil, unknownKey()
	}
	k, err := c.st.KeyByHash(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.rememberNegative(hash, now)
		return nil, unknownKey()
	case err != nil:
		return nil, fmt.Errorf("%w: keys cannot be verified right now; retry shortly", ErrStoreUnavailable)
	}
	e := c.add(k)
	return check(e, now)
}

func unknownKey() error {
	return fmt.Errorf("%w: this key is not known to Switchyard; check for a copy/paste error or ask your administrator for a new key", ErrInvalidKey)
}

// add publishes a key found by the fallback lookup.
func (c *KeyCache) add(k store.Key) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cur.Load()
	if e, ok := old.byHash[k.Hash]; ok && !e.key.UpdatedAt.Before(k.UpdatedAt) {
		return e
	}
	next := old.clone()
	next.put(k)
	c.cur.Store(next)
	return next.byHash[k.Hash]
}

func check(e *entry, now time.Time) (*Principal, error) {
	k := e.key
	switch {
	case k.RevokedAt != nil && !now.Before(*k.RevokedAt):
		return nil, fmt.Errorf("%w: key %s was revoked on %s; ask your administrator for a new key", ErrRevokedKey, k.Prefix, k.RevokedAt.Format(time.RFC3339))
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return nil, fmt.Errorf("%w: key %s expired on %s; ask your administrator to renew it", ErrExpiredKey, k.Prefix, k.ExpiresAt.Format(time.RFC3339))
	case k.GraceUntil != nil && !now.Before(*k.GraceUntil):
		return nil, fmt.Errorf("%w: key %s was rotated and its grace period ended on %s; switch to the key that replaced it", ErrExpiredKey, k.Prefix, k.GraceUntil.Format(time.RFC3339))
	}
	return e.principal, nil
}
