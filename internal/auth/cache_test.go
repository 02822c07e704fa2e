package auth

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// flakyStore wraps a real store, counts hash lookups and can go down.
type flakyStore struct {
	store.Store
	down    atomic.Bool
	lookups atomic.Int64
}

var errDown = errors.New("connection refused")

func (f *flakyStore) KeyByHash(ctx context.Context, h string) (store.Key, error) {
	f.lookups.Add(1)
	if f.down.Load() {
		return store.Key{}, errDown
	}
	return f.Store.KeyByHash(ctx, h)
}

func (f *flakyStore) KeysChangedSince(ctx context.Context, t time.Time) ([]store.Key, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.KeysChangedSince(ctx, t)
}

func (f *flakyStore) ListTeams(ctx context.Context, org string) ([]store.Team, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Store.ListTeams(ctx, org)
}

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newFixture(t *testing.T, opts Options) (*flakyStore, *KeyCache, *clock) {
	t.Helper()
	fs := &flakyStore{Store: storetest.Open(t, storetest.SQLiteDSN(t))}
	clk := &clock{t: time.Now()}
	opts.Logger, opts.Now = quiet, clk.Now
	return fs, NewKeyCache(fs, opts), clk
}

func issue(t *testing.T, st store.KeyStore, k store.Key) GeneratedKey {
	t.Helper()
	g, _, err := IssueKey(context.Background(), st, k)
	if err != nil {
		t.Fatalf("IssueKey: %v", err)
	}
	return g
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	fs, c, clk := newFixture(t, Options{})
	now := clk.Now()
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	team, err := fs.CreateTeam(ctx, store.Team{Name: "ml", AllowedModels: []string{"gpt-4o", "claude"}})
	if err != nil {
		t.Fatal(err)
	}
	good := issue(t, fs, store.Key{TeamID: team.ID, AllowedModels: []string{"gpt-4o"}, RPM: 7})
	expired := issue(t, fs, store.Key{ExpiresAt: &past})
	inGrace := issue(t, fs, store.Key{GraceUntil: &future})
	graceOver := issue(t, fs, store.Key{GraceUntil: &past})
	revoked := issue(t, fs, store.Key{})
	rk, _ := fs.KeyByHash(ctx, revoked.Hash)
	if _, err := fs.RevokeKey(ctx, rk.ID, past); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	cases := []struct {
		name       string
		secret     string
		want       error
		status     int
		msgHas     string
		wantPrefix string
	}{
		{"valid", good.Secret, nil, 0, "", good.Prefix},
		{"in grace after rotation", inGrace.Secret, nil, 0, "", inGrace.Prefix},
		{"unknown", GenerateKey().Secret, ErrInvalidKey, 401, "ask your administrator", ""},
		{"not a switchyard key", "sk-proj-abc", ErrInvalidKey, 401, "Authorization: Bearer", ""},
		{"empty", "", ErrInvalidKey, 401, "starts with", ""},
		{"expired", expired.Secret, ErrExpiredKey, 401, "renew", ""},
		{"grace over", graceOver.Secret, ErrExpiredKey, 401, "switch to the key that replaced it", ""},
		{"revoked", revoked.Secret, ErrRevokedKey, 401, "revoked on", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.Authenticate(ctx, tc.secret)
			if tc.want == nil {
				if err != nil || p.KeyPrefix != tc.wantPrefix {
					t.Fatalf("Authenticate = %+v, %v; want principal %s", p, err, tc.wantPrefix)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v; want %v", err, tc.want)
			}
			if got := HTTPStatus(err); got != tc.status {
				t.Errorf("HTTPStatus = %d; want %d", got, tc.status)
			}
			if !strings.Contains(err.Error(), tc.msgHas) {
				t.Errorf("message %q does not tell the caller what to do (want %q)", err, tc.msgHas)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret[len(SecretPrefix):]) {
				t.Errorf("error echoes the secret: %q", err)
			}
		})
	}

	p, _ := c.Authenticate(ctx, good.Secret)
	if !p.AllowsModel("gpt-4o") || p.AllowsModel("claude") || p.RPM != 7 || p.TeamID != team.ID {
		t.Fatalf("principal lost key or team policy: %+v", p)
	}
}

func TestNewKeysAndRevocationsReachTheCache(t *testing.T) {
	ctx := context.Background()
	fs, c, clk := newFixture(t, Options{})
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// A key created after the load (say, on another replica) is found by
	// the one-off store lookup.
	g, k, err := IssueKey(ctx, fs, store.Key{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, g.Secret); err != nil {
		t.Fatalf("fresh key: %v", err)
	}
	if _, err := fs.RevokeKey(ctx, k.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, g.Secret); !errors.Is(err, ErrRevokedKey) {
		t.Fatalf("after revocation + refresh: %v; want ErrRevokedKey", err)
	}
}

func TestNegativeCacheSparesTheStore(t *testing.T) {
	ctx := context.Background()
	fs, c, clk := newFixture(t, Options{NegativeTTL: time.Minute})
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	unknown := GenerateKey()
	for range 5 {
		if _, err := c.Authenticate(ctx, unknown.Secret); !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("unknown key: %v", err)
		}
	}
	if n := fs.lookups.Load(); n != 1 {
		t.Fatalf("store saw %d lookups for one unknown key; want 1", n)
	}
	// The key now gets created; the change feed clears the negative entry.
	if _, err := fs.CreateKey(ctx, store.Key{Hash: unknown.Hash, Prefix: unknown.Prefix}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, unknown.Secret); err != nil {
		t.Fatalf("key created after a negative lookup still rejected: %v", err)
	}
}

func TestStoreOutage(t *testing.T) {
	cases := []struct {
		name          string
		failOpen      bool
		wantKnown     error // for a cached key once the cache is stale
		wantUnknown   error
		wantDegraded  bool
		staleDuration time.Duration
	}{
		{"fail open keeps serving the cache", true, nil, ErrStoreUnavailable, true, time.Hour},
		{"fail closed rejects once stale", false, ErrStoreUnavailable, ErrStoreUnavailable, true, time.Hour},
		{"fail closed serves while fresh", false, nil, ErrStoreUnavailable, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			fs, c, clk := newFixture(t, Options{FailOpen: tc.failOpen, StaleAfter: 5 * time.Second})
			g := issue(t, fs, store.Key{})
			if err := c.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			fs.down.Store(true)
			if err := c.Refresh(ctx); !errors.Is(err, ErrStoreUnavailable) {
				t.Fatalf("Refresh while down: %v", err)
			}
			if c.Degraded() != tc.wantDegraded {
				t.Fatalf("Degraded = %v", c.Degraded())
			}
			clk.Advance(tc.staleDuration)
			if _, err := c.Authenticate(ctx, g.Secret); !errors.Is(err, tc.wantKnown) {
				t.Fatalf("cached key: %v; want %v", err, tc.wantKnown)
			}
			_, err := c.Authenticate(ctx, GenerateKey().Secret)
			if !errors.Is(err, tc.wantUnknown) || HTTPStatus(err) != http.StatusServiceUnavailable {
				t.Fatalf("unknown key while down: %v; want %v (503)", err, tc.wantUnknown)
			}
			fs.down.Store(false)
			if err := c.Refresh(ctx); err != nil || c.Degraded() {
				t.Fatalf("recovery: err=%v degraded=%v", err, c.Degraded())
			}
			if _, err := c.Authenticate(ctx, g.Secret); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

// TestRevocationAcrossReplicas runs two caches (two gateway replicas) on
// one database with the real background loop and waits for both to see
// a revocation made through the store.
func TestRevocationAcrossReplicas(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			dsn := e.NewDSN(t)
			admin := storetest.Open(t, dsn)
			g, k, err := IssueKey(ctx, admin, store.Key{})
			if err != nil {
				t.Fatal(err)
			}
			var replicas []*KeyCache
			for range 2 {
				c := NewKeyCache(storetest.Open(t, dsn), Options{Refresh: 20 * time.Millisecond, Logger: quiet})
				if err := c.Start(ctx); err != nil {
					t.Fatal(err)
				}
				defer c.Stop()
				if _, err := c.Authenticate(ctx, g.Secret); err != nil {
					t.Fatalf("before revocation: %v", err)
				}
				replicas = append(replicas, c)
			}
			if _, err := admin.RevokeKey(ctx, k.ID, time.Time{}); err != nil {
				t.Fatal(err)
			}
			for i, c := range replicas {
				waitFor(t, func() bool {
					_, err := c.Authenticate(ctx, g.Secret)
					return errors.Is(err, ErrRevokedKey)
				}, "replica %d never saw the revocation", i)
			}
		})
	}
}

// waitFor polls cond; the deadline only bounds a broken test, it asserts
// nothing about speed.
func waitFor(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	st := storetest.Open(b, storetest.SQLiteDSN(b))
	g, _, err := IssueKey(ctx, st, store.Key{})
	if err != nil {
		b.Fatal(err)
	}
	c := NewKeyCache(st, Options{Logger: quiet})
	if err := c.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Authenticate(ctx, g.Secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}
