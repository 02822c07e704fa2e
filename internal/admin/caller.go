package admin

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

// perm is one thing an endpoint does.
type perm int

const (
	permOrgsRead perm = iota
	permOrgsWrite
	permTeamsRead
	permTeamsWrite
	permUsersRead
	permUsersWrite
	permKeysRead
	permKeysWrite
	permBudgetsRead
	permBudgetsWrite
	permUsageRead
	permAuditExport
	permAuditVerify
	permApprovalsRead
	permApprovalsDecide
	permStatusRead
)

// reach is how far a grant extends.
type reach int

const (
	reachNone reach = iota
	// reachTeams covers only resources of the caller's own teams.
	reachTeams
	reachAll
)

var readPerms = []perm{permOrgsRead, permTeamsRead, permUsersRead, permKeysRead, permBudgetsRead,
	permUsageRead, permAuditVerify, permApprovalsRead, permStatusRead}

// grants is the role matrix. A role absent from a perm's map has no
// access to it.
var grants = func() map[string]map[perm]reach {
	g := map[string]map[perm]reach{
		adminv1.RoleAdmin: {},
		adminv1.RoleTeamAdmin: {
			permTeamsRead: reachTeams, permKeysRead: reachTeams, permKeysWrite: reachTeams,
			permBudgetsRead: reachTeams, permBudgetsWrite: reachTeams, permUsageRead: reachTeams,
			permApprovalsRead: reachTeams, permApprovalsDecide: reachTeams,
		},
		adminv1.RoleAuditor:  {permUsageRead: reachAll, permAuditExport: reachAll, permAuditVerify: reachAll},
		adminv1.RoleReadOnly: {},
	}
	for p := permOrgsRead; p <= permStatusRead; p++ {
		g[adminv1.RoleAdmin][p] = reachAll
	}
	for _, p := range readPerms {
		g[adminv1.RoleReadOnly][p] = reachAll
	}
	return g
}()

func validRole(r string) bool { return slices.Contains(adminv1.Roles, r) }

// caller is the authenticated person or token behind a request.
type caller struct {
	// subject names the caller in audit records: "bootstrap", or the
	// token's email (else sub).
	subject string
	// actorKind is store.ActorAdmin for the bootstrap token and
	// store.ActorUser for SSO.
	actorKind string
	// via is "bootstrap" or "oidc".
	via   string
	roles []string
	teams []string
}

// reach returns the widest grant any of the caller's roles has for p.
func (c *caller) reach(p perm) reach {
	best := reachNone
	for _, r := range c.roles {
		best = max(best, grants[r][p])
	}
	return best
}

// scope is what one request may touch after the endpoint check.
type scope struct {
	all   bool
	teams []string
}

// allows reports whether a resource of teamID is within the scope; a
// resource of no team is only within an unrestricted scope.
func (s scope) allows(teamID string) bool {
	return s.all || (teamID != "" && slices.Contains(s.teams, teamID))
}

// authenticate resolves the bearer token. OIDC failures come back as
// apiErrors (401, 403 or 503).
func (h *handler) authenticate(r *http.Request) (*caller, error) {
	raw := r.Header.Get("Authorization")
	if raw == "" {
		return nil, unauthorized("missing_credentials",
			"send the bootstrap token or an SSO token as \"Authorization: Bearer <token>\"")
	}
	scheme, token, ok := strings.Cut(raw, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, unauthorized("missing_credentials",
			"the Authorization header must be \"Bearer <token>\"")
	}
	// An empty bootstrap token must never match, so it is checked first;
	// the comparison itself is constant-time.
	if h.opts.BootstrapToken != "" &&
		subtle.ConstantTimeCompare([]byte(token), []byte(h.opts.BootstrapToken)) == 1 {
		return &caller{subject: "bootstrap", actorKind: store.ActorAdmin, via: "bootstrap",
			roles: []string{adminv1.RoleAdmin}}, nil
	}
	if strings.Count(token, ".") == 2 {
		if h.oidc == nil {
			return nil, unauthorized("invalid_token",
				"this gateway has no SSO configured (admin.oidc); use the bootstrap token")
		}
		return h.oidc.authenticate(r.Context(), token)
	}
	return nil, unauthorized("invalid_token", "the admin token is not valid; check SWITCHYARD_ADMIN_TOKEN or sign in again")
}
