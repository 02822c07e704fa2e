package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

// OIDCConfig lets people sign in to the admin API with an SSO token
// (an OIDC ID token, or a JWT access token whose audience is the client
// id) checked against the issuer's published keys.
type OIDCConfig struct {
	// Issuer is the IdP's issuer URL; discovery reads
	// <Issuer>/.well-known/openid-configuration.
	Issuer string `yaml:"issuer"`
	// Audience is the client id tokens must be issued to.
	Audience string `yaml:"audience"`
	// RoleClaim names the claim holding the caller's roles or groups
	// (a string or a list; a dotted path such as "realm_access.roles"
	// reaches into objects). Default "roles".
	RoleClaim string `yaml:"role_claim"`
	// TeamClaim names the claim holding the caller's team ids. Default
	// "teams".
	TeamClaim string `yaml:"team_claim"`
	// RoleMap maps IdP role or group values to Switchyard roles (admin,
	// team_admin, auditor, read_only). When empty, claim values that are
	// already Switchyard role names are taken as they are.
	RoleMap map[string]string `yaml:"role_map"`
	// SkipIssuerCheck accepts tokens and a discovery document whose issuer
	// differs from Issuer (multi-tenant IdPs). Default false.
	SkipIssuerCheck bool `yaml:"skip_issuer_check"`
	// RetryInterval is the least time between discovery attempts while
	// the IdP is unreachable. Default 10s.
	RetryInterval time.Duration `yaml:"retry_interval"`
	// HTTPClient fetches discovery and keys; or nil for
	// http.DefaultClient.
	HTTPClient *http.Client `yaml:"-"`
}

// Validate reports configuration mistakes, naming the field.
func (c OIDCConfig) Validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("issuer: set the IdP's issuer URL"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience: set the client id tokens are issued to"))
	}
	for from, to := range c.RoleMap {
		if !validRole(to) {
			errs = append(errs, fmt.Errorf("role_map[%q]: %q is not a role; use one of %s",
				from, to, strings.Join(adminv1.Roles, ", ")))
		}
	}
	return errors.Join(errs...)
}

// oidcAuth verifies SSO tokens. Discovery runs on first use and is
// retried at most every RetryInterval, so the gateway starts, and the
// bootstrap token works, while the IdP is unreachable.
type oidcAuth struct {
	cfg OIDCConfig
	now func() time.Time

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier // or nil before discovery succeeds; guarded by mu
	lastTry  time.Time             // guarded by mu
	lastErr  error                 // guarded by mu
}

func newOIDCAuth(cfg OIDCConfig, now func() time.Time) *oidcAuth {
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "roles"
	}
	if cfg.TeamClaim == "" {
		cfg.TeamClaim = "teams"
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 10 * time.Second
	}
	return &oidcAuth{cfg: cfg, now: now}
}

// discoveryTimeout bounds one discovery attempt, which runs while a
// request waits.
const discoveryTimeout = 10 * time.Second

func (o *oidcAuth) getVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	now := o.now()
	if !o.lastTry.IsZero() && now.Sub(o.lastTry) < o.cfg.RetryInterval {
		return nil, o.lastErr
	}
	o.lastTry = now
	// Discovery outlives no request, but the key set it creates keeps
	// this context's values (the HTTP client) for later refreshes.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discoveryTimeout)
	defer cancel()
	if o.cfg.HTTPClient != nil {
		dctx = oidc.ClientContext(dctx, o.cfg.HTTPClient)
	}
	if o.cfg.SkipIssuerCheck {
		dctx = oidc.InsecureIssuerURLContext(dctx, o.cfg.Issuer)
	}
	p, err := oidc.NewProvider(dctx, o.cfg.Issuer)
	if err != nil {
		o.lastErr = err
		return nil, err
	}
	o.verifier = p.Verifier(&oidc.Config{
		ClientID:        o.cfg.Audience,
		SkipIssuerCheck: o.cfg.SkipIssuerCheck,
		Now:             o.now,
	})
	o.lastErr = nil
	return o.verifier, nil
}

func (o *oidcAuth) authenticate(ctx context.Context, token string) (*caller, error) {
	v, err := o.getVerifier(ctx)
	if err != nil {
		e := newError(http.StatusServiceUnavailable, "unavailable", "idp_unreachable",
			"cannot reach the identity provider %s to check SSO tokens (%v); retry shortly or use the bootstrap token",
			o.cfg.Issuer, err)
		e.retryAfter = int(o.cfg.RetryInterval / time.Second)
		return nil, e
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if o.cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, o.cfg.HTTPClient)
	}
	idt, err := v.Verify(ctx, token)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return nil, unauthorized("token_expired", "the SSO token expired at %s; sign in again",
				exp.Expiry.UTC().Format(time.RFC3339))
		}
		return nil, unauthorized("invalid_token", "the SSO token was rejected (%v); sign in again to this gateway's IdP", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, unauthorized("invalid_token", "the SSO token's claims are unreadable: %v", err)
	}
	c := &caller{subject: idt.Subject, actorKind: store.ActorUser, via: "oidc"}
	if email, ok := claims["email"].(string); ok && email != "" {
		c.subject = email
	}
	for _, v := range claimStrings(claims, o.cfg.RoleClaim) {
		if role := o.mapRole(v); role != "" && !slices.Contains(c.roles, role) {
			c.roles = append(c.roles, role)
		}
	}
	c.teams = claimStrings(claims, o.cfg.TeamClaim)
	if len(c.roles) == 0 {
		return nil, forbidden("%s signed in, but the token's %q claim grants no Switchyard role; ask an administrator to map your IdP group to one of %s",
			c.subject, o.cfg.RoleClaim, strings.Join(adminv1.Roles, ", "))
	}
	return c, nil
}

func (o *oidcAuth) mapRole(v string) string {
	if len(o.cfg.RoleMap) == 0 {
		if validRole(v) {
			return v
		}
		return ""
	}
	if r := o.cfg.RoleMap[v]; validRole(r) {
		return r
	}
	return ""
}

// claimStrings reads a string or list-of-strings claim. A name with dots
// is first tried as a literal claim name (URLs are common claim names),
// then as a path into nested objects.
func claimStrings(claims map[string]any, name string) []string {
	v, ok := claims[name]
	if !ok && strings.Contains(name, ".") {
		var cur any = claims
		for part := range strings.SplitSeq(name, ".") {
			m, isMap := cur.(map[string]any)
			if !isMap {
				cur = nil
				break
			}
			cur = m[part]
		}
		v = cur
	}
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
