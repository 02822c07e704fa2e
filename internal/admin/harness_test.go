package admin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	bootstrap = "boot-token-0123456789"
	audience  = "switchyard-admin"
)

// clock is a settable time source.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// recorder collects audit records.
type recorder struct {
	mu   sync.Mutex
	recs []store.AuditRecord
}

func (r *recorder) Append(_ context.Context, rec store.AuditRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

func (r *recorder) all() []store.AuditRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.AuditRecord(nil), r.recs...)
}

// issuer is a local OIDC provider: discovery plus a JWKS.
type issuer struct {
	srv  *httptest.Server
	key  *rsa.PrivateKey
	kid  string
	down atomic.Bool // answer discovery with 503 while set
}

// rsaKeys are generated once: RSA generation is the slow part of a test
// environment. Index 0 is the issuer's key, 1 a stranger's.
var rsaKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	key := rsaKeys()[0]
	iss := &issuer{key: key, kid: "test-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if iss.down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss.srv.URL, "jwks_uri": iss.srv.URL + "/keys",
			"authorization_endpoint": iss.srv.URL + "/auth", "token_endpoint": iss.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &key.PublicKey, KeyID: iss.kid, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// sign returns a JWT over claims signed with key (the issuer's own key
// unless another is given).
func (iss *issuer) sign(t testing.TB, claims map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	if key == nil {
		key = iss.key
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: iss.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// env is one admin API over a fresh SQLite store.
type env struct {
	t      testing.TB
	st     store.Store
	clock  *clock
	audit  *recorder
	iss    *issuer
	srv    *httptest.Server
	client *http.Client
}

var start = time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)

func newEnv(t testing.TB, tweak func(*admin.Options)) *env {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "admin.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, st: st, clock: newClock(start), audit: &recorder{}, iss: newIssuer(t)}
	oidcClient := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(oidcClient.CloseIdleConnections)
	opts := admin.Options{
		Store: st, BootstrapToken: bootstrap, Audit: e.audit, Now: e.clock.Now,
		OIDC: &admin.OIDCConfig{
			Issuer: e.iss.srv.URL, Audience: audience, HTTPClient: oidcClient,
			RoleMap: map[string]string{
				"gw-admins": adminv1.RoleAdmin, "gw-team-admins": adminv1.RoleTeamAdmin,
				"gw-auditors": adminv1.RoleAuditor, "gw-viewers": adminv1.RoleReadOnly,
			},
		},
	}
	if tweak != nil {
		tweak(&opts)
	}
	e.srv = httptest.NewServer(admin.New(opts))
	t.Cleanup(e.srv.Close)
	e.client = &http.Client{Transport: &http.Transport{}}
	t.Cleanup(e.client.CloseIdleConnections)
	return e
}

// claims returns valid claims for a person with IdP groups and teams.
func (e *env) claims(groups []string, teams []string) map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"iss": e.iss.srv.URL, "aud": audience, "sub": "user-123", "email": "ada@example.com",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": groups, "teams": teams,
	}
}

// tokenFor is an SSO token for a Switchyard role (via the role map).
func (e *env) tokenFor(role string, teams ...string) string {
	group := map[string]string{
		adminv1.RoleAdmin: "gw-admins", adminv1.RoleTeamAdmin: "gw-team-admins",
		adminv1.RoleAuditor: "gw-auditors", adminv1.RoleReadOnly: "gw-viewers",
	}[role]
	return e.iss.sign(e.t, e.claims([]string{group}, teams), nil)
}

// resp is an answer from the admin API.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// apiErr decodes an error body and checks its shape.
func (r resp) apiErr(t testing.TB) adminv1.Error {
	t.Helper()
	var eb adminv1.ErrorBody
	r.decode(t, &eb)
	if eb.Error.Message == "" || eb.Error.Type == "" || eb.Error.Code == "" {
		t.Fatalf("error body lacks message/type/code: %s", r.body)
	}
	return eb.Error
}

func (e *env) do(token, method, path string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: raw}
}

// must fails unless the answer has status want.
func (e *env) must(want int, token, method, path string, body any) resp {
	e.t.Helper()
	r := e.do(token, method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s = %d %s; want %d", method, path, r.status, r.body, want)
	}
	return r
}

// fixture is a small tenancy: one org, teams A and B, a key in each.
type fixture struct {
	org          store.Org
	teamA, teamB store.Team
	keyA, keyB   store.Key
}

func (e *env) seed() fixture {
	e.t.Helper()
	ctx := context.Background()
	var f fixture
	var err error
	if f.org, err = e.st.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Acme"}); err != nil {
		e.t.Fatal(err)
	}
	if f.teamA, err = e.st.CreateTeam(ctx, store.Team{ID: "team_a", OrgID: f.org.ID, Name: "A"}); err != nil {
		e.t.Fatal(err)
	}
	if f.teamB, err = e.st.CreateTeam(ctx, store.Team{ID: "team_b", OrgID: f.org.ID, Name: "B"}); err != nil {
		e.t.Fatal(err)
	}
	for i, dst := range []*store.Key{&f.keyA, &f.keyB} {
		team := []string{"team_a", "team_b"}[i]
		*dst, err = e.st.CreateKey(ctx, store.Key{ID: "key_" + team, Name: team, OrgID: f.org.ID, TeamID: team,
			Prefix: "sk-sy-" + team, Hash: fmt.Sprintf("hash-%d", i)})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	return f
}
