package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// Auditor receives one record per admin action. The audit chain
// satisfies it through an adapter; see AuditorFunc.
type Auditor interface {
	Append(ctx context.Context, rec store.AuditRecord) error
}

// AuditorFunc adapts a function to Auditor, e.g.
// AuditorFunc(func(_ context.Context, r store.AuditRecord) error { return chain.Append(r) }).
type AuditorFunc func(ctx context.Context, rec store.AuditRecord) error

// Append implements Auditor.
func (f AuditorFunc) Append(ctx context.Context, rec store.AuditRecord) error { return f(ctx, rec) }

// ApprovalDecider applies a person's decision to a held request and
// releases or discards it. It returns store.ErrNotFound for an unknown id
// and store.ErrConflict when the approval was already decided otherwise
// or has expired.
type ApprovalDecider interface {
	Decide(ctx context.Context, id string, approve bool, by, comment string) (store.Approval, error)
}

// Options configure the admin API. Store is required; every other field
// is optional.
type Options struct {
	// Store holds everything the API manages. Required.
	Store store.Store
	// BootstrapToken grants the admin role; or "" to accept SSO only.
	BootstrapToken string
	// OIDC enables SSO sign-in; or nil.
	OIDC *OIDCConfig
	// Audit receives a record for every change and every denied attempt;
	// or nil to record nothing (tests, demos).
	Audit Auditor
	// Status reports the router's deployments for GET /admin/v1/status;
	// or nil, and that endpoint answers 501.
	Status func() any
	// Approvals decides held requests; or nil, and approve/deny answer
	// 501 (listing still reads the store).
	Approvals ApprovalDecider
	// AuditVerify checks the audit chain for GET /admin/v1/audit/verify;
	// or nil, and that endpoint answers 501. A result with an OK() bool
	// method sets the response's "ok".
	AuditVerify func(ctx context.Context) (any, error)
	// Now is the clock; or nil for time.Now.
	Now func() time.Time
	// Logger receives internal errors; or nil for slog.Default().
	Logger *slog.Logger
}

// handler serves /admin/v1/.
type handler struct {
	opts Options
	oidc *oidcAuth // or nil
	mux  *http.ServeMux
}

// New returns the admin API handler; mount it at /admin/.
func New(opts Options) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &handler{opts: opts, mux: http.NewServeMux()}
	if opts.OIDC != nil {
		if err := opts.OIDC.Validate(); err != nil {
			opts.Logger.Warn("admin: OIDC configuration has problems; affected tokens will be rejected", "err", err)
		}
		h.oidc = newOIDCAuth(*opts.OIDC, opts.Now)
	}
	h.routes()
	return h.mux
}

// call is one authenticated request on its way through a handler. The
// handler fills the audit fields it knows (resource, team, org).
type call struct {
	who   *caller
	scope scope
	// resource, teamID and orgID describe the target for the audit record.
	resource string
	teamID   string
	orgID    string
}

// target records what the call acts on, for the audit record.
func (c *call) target(resource, teamID, orgID string) {
	c.resource, c.teamID, c.orgID = resource, teamID, orgID
}

// inTeam fails unless the call's scope covers teamID.
// listTeams returns the teams a list request covers: the one asked for
// (checked against the caller's scope), or, with none asked for, every
// team the caller may see ("" standing for all teams to an admin).
func (c *call) listTeams(requested string) ([]string, error) {
	if c.scope.all {
		return []string{requested}, nil
	}
	if requested == "" {
		return c.scope.teams, nil
	}
	if err := c.inTeam(requested, "team "+requested); err != nil {
		return nil, err
	}
	return []string{requested}, nil
}

// queryLimit reads the optional ?limit= of a list request; 0 means none.
func queryLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, invalid("limit", "limit must be a whole number ≥ 0, not %q", v)
	}
	return n, nil
}

func (c *call) inTeam(teamID, what string) error {
	if c.scope.allows(teamID) {
		return nil
	}
	if teamID == "" {
		return forbidden("%s belongs to no team, so only an admin may act on it; team admins name one of their teams (team_id)", what)
	}
	return forbidden("%s belongs to team %s, which you do not administer (your teams: %s)",
		what, teamID, strings.Join(c.scope.teams, ", "))
}

type endpoint func(w http.ResponseWriter, r *http.Request, c *call) error

// handle registers pattern behind authentication and the p permission
// check. A non-empty action is written to the audit log with the outcome.
func (h *handler) handle(pattern string, p perm, action string, fn endpoint) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		who, err := h.authenticate(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		c := &call{who: who}
		switch who.reach(p) {
		case reachAll:
			c.scope = scope{all: true}
			err = fn(w, r, c)
		case reachTeams:
			c.scope = scope{teams: who.teams}
			err = fn(w, r, c)
		default:
			err = forbidden("your role (%s) may not %s; ask an administrator for a role that can",
				strings.Join(who.roles, ", "), describe(r))
		}
		if err != nil {
			h.fail(w, r, err)
		}
		if action != "" {
			h.record(r, c, action, err)
		}
	})
}

func describe(r *http.Request) string {
	return r.Method + " " + r.URL.Path
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae, known := asAPIError(err)
	if !known {
		h.opts.Logger.Error("admin: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, ae)
}

// record writes the audit record of one admin action. A failure to
// record is logged, not returned: the action has already happened.
func (h *handler) record(r *http.Request, c *call, action string, err error) {
	if h.opts.Audit == nil {
		return
	}
	outcome, status, msg := "ok", http.StatusOK, ""
	if err != nil {
		ae, _ := asAPIError(err)
		outcome, status, msg = ae.body.Code, ae.status, ae.body.Message
	}
	details, _ := json.Marshal(struct {
		Method  string   `json:"method"`
		Path    string   `json:"path"`
		Status  int      `json:"status"`
		Via     string   `json:"via"`
		Roles   []string `json:"roles"`
		Message string   `json:"message,omitempty"`
	}{r.Method, r.URL.Path, status, c.who.via, c.who.roles, msg})
	rec := store.AuditRecord{
		Time: h.opts.Now(), ActorKind: c.who.actorKind, ActorID: c.who.subject,
		TeamID: c.teamID, OrgID: c.orgID, Action: action, Resource: c.resource,
		Outcome: outcome, Details: details,
	}
	if aerr := h.opts.Audit.Append(context.WithoutCancel(r.Context()), rec); aerr != nil {
		h.opts.Logger.Error("admin: audit record lost", "action", action, "resource", c.resource, "err", aerr)
	}
}

// maxBody bounds request bodies; admin payloads are small.
const maxBody = 1 << 20

// decode reads a JSON body strictly: unknown fields and trailing data are
// 400s naming the problem. An empty body leaves v as it is when optional.
func decode(r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return invalid("", "could not read the request body: %v", err)
	}
	if len(body) > maxBody {
		return invalid("", "the request body is larger than %d bytes", maxBody)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return nil
		}
		return invalid("", "the request needs a JSON body")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr):
			return invalid(typeErr.Field, "field %q must be a %s, not a JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
		case errors.As(err, &syntaxErr):
			return invalid("", "the body is not valid JSON (at byte %d): %v", syntaxErr.Offset, err)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return invalid(field, "unknown field %q; check the field name against the API reference", field)
		default:
			return invalid("", "the body could not be decoded: %v", err)
		}
	}
	if dec.More() {
		return invalid("", "the body must hold exactly one JSON object")
	}
	return nil
}

// parseTime accepts RFC 3339 or a YYYY-MM-DD date (midnight UTC).
func parseTime(param, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, invalid(param, "%s=%q is not a time; use RFC 3339 (2025-01-31T00:00:00Z) or a date (2025-01-31)", param, v)
}

// timeRange reads from and to. Defaults: to = now, from = the start of
// to's month (UTC).
func (h *handler) timeRange(r *http.Request) (from, to time.Time, err error) {
	q := r.URL.Query()
	to = h.opts.Now().UTC()
	if v := q.Get("to"); v != "" {
		if to, err = parseTime("to", v); err != nil {
			return
		}
	}
	from = time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)
	if v := q.Get("from"); v != "" {
		if from, err = parseTime("from", v); err != nil {
			return
		}
	}
	if !from.Before(to) {
		err = invalid("from", "from (%s) must be before to (%s)", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return
}

func (h *handler) routes() {
	const v1 = "/admin/v1"
	h.handle("POST "+v1+"/orgs", permOrgsWrite, "org.create", h.createOrg)
	h.handle("GET "+v1+"/orgs", permOrgsRead, "", h.listOrgs)

	h.handle("POST "+v1+"/teams", permTeamsWrite, "team.create", h.createTeam)
	h.handle("GET "+v1+"/teams", permTeamsRead, "", h.listTeams)
	h.handle("GET "+v1+"/teams/{id}", permTeamsRead, "", h.getTeam)
	h.handle("PATCH "+v1+"/teams/{id}", permTeamsWrite, "team.update", h.updateTeam)

	h.handle("POST "+v1+"/users", permUsersWrite, "user.create", h.createUser)
	h.handle("GET "+v1+"/users", permUsersRead, "", h.listUsers)

	h.handle("POST "+v1+"/keys", permKeysWrite, "key.create", h.createKey)
	h.handle("GET "+v1+"/keys", permKeysRead, "", h.listKeys)
	h.handle("GET "+v1+"/keys/{id}", permKeysRead, "", h.getKey)
	h.handle("PATCH "+v1+"/keys/{id}", permKeysWrite, "key.update", h.updateKey)
	h.handle("POST "+v1+"/keys/{id}/rotate", permKeysWrite, "key.rotate", h.rotateKey)
	h.handle("POST "+v1+"/keys/{id}/revoke", permKeysWrite, "key.revoke", h.revokeKey)

	h.handle("POST "+v1+"/budgets", permBudgetsWrite, "budget.create", h.createBudget)
	h.handle("GET "+v1+"/budgets", permBudgetsRead, "", h.listBudgets)
	h.handle("GET "+v1+"/budgets/{id}", permBudgetsRead, "", h.getBudget)
	h.handle("DELETE "+v1+"/budgets/{id}", permBudgetsWrite, "budget.delete", h.deleteBudget)

	h.handle("GET "+v1+"/usage", permUsageRead, "", h.usage)
	h.handle("GET "+v1+"/audit", permAuditExport, "audit.export", h.auditExport)
	h.handle("GET "+v1+"/audit/verify", permAuditVerify, "audit.verify", h.auditVerify)

	h.handle("GET "+v1+"/approvals", permApprovalsRead, "", h.listApprovals)
	h.handle("GET "+v1+"/approvals/{id}", permApprovalsRead, "", h.getApproval)
	h.handle("POST "+v1+"/approvals/{id}/approve", permApprovalsDecide, "approval.approve", h.approve)
	h.handle("POST "+v1+"/approvals/{id}/deny", permApprovalsDecide, "approval.deny", h.deny)

	h.handle("GET "+v1+"/status", permStatusRead, "", h.status)

	h.mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, notFound("there is no admin endpoint %s; see the admin API reference for the paths under /admin/v1/", describe(r)))
	})
}

// teamOrg loads the team a request names, as a 400 when it does not exist.
func (h *handler) teamOrg(ctx context.Context, teamID string) (store.Team, error) {
	t, err := h.opts.Store.Team(ctx, teamID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Team{}, invalid("team_id", "team %q does not exist; create it first (switchyard teams create)", teamID)
	}
	if err != nil {
		return store.Team{}, fmt.Errorf("admin: look up team %s: %w", teamID, err)
	}
	return t, nil
}

var _ Auditor = AuditorFunc(nil)
