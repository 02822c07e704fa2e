// Package adminv1 holds the wire types of the admin API under
// /admin/v1/, shared by the server (package admin) and the Go client
// (package client) so the two cannot drift apart.
//
// Resources themselves travel as the store's types (store.Key,
// store.Team, ...), whose JSON never includes a key's secret or hash.
package adminv1

import (
	"encoding/json"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// Roles an admin caller can hold.
const (
	// RoleAdmin may do everything.
	RoleAdmin = "admin"
	// RoleTeamAdmin manages keys, budgets and approvals of its own teams
	// and reads their usage.
	RoleTeamAdmin = "team_admin"
	// RoleAuditor reads usage, exports the audit log and verifies it.
	RoleAuditor = "auditor"
	// RoleReadOnly may GET everything except the audit export.
	RoleReadOnly = "read_only"
)

// Roles lists every role, most privileged first.
var Roles = []string{RoleAdmin, RoleTeamAdmin, RoleReadOnly, RoleAuditor}

// List wraps every collection response.
type List[T any] struct {
	Data []T `json:"data"`
}

// ErrorBody is the shape of every error response.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error says what went wrong and what to do about it.
type Error struct {
	Message string `json:"message"`
	// Type is the class: invalid_request_error, authentication_error,
	// permission_error, not_found_error, conflict_error, not_implemented,
	// unavailable or api_error.
	Type string `json:"type"`
	// Code is a stable machine-readable reason.
	Code string `json:"code"`
	// Param names the offending request field or query parameter; or "".
	Param string `json:"param,omitempty"`
}

// OrgCreate is the body of POST /admin/v1/orgs.
type OrgCreate struct {
	// ID is optional; generated when empty.
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// TeamCreate is the body of POST /admin/v1/teams.
type TeamCreate struct {
	// ID is optional; generated when empty.
	ID               string   `json:"id,omitempty"`
	OrgID            string   `json:"org_id"`
	Name             string   `json:"name"`
	AllowedModels    []string `json:"allowed_models,omitempty"`
	AllowedRegions   []string `json:"allowed_regions,omitempty"`
	AllowedProviders []string `json:"allowed_providers,omitempty"`
	// RPM and TPM limit requests and tokens per minute across all the
	// team's keys; 0 means none.
	RPM int `json:"rpm,omitempty"`
	TPM int `json:"tpm,omitempty"`
}

// TeamUpdate is the body of PATCH /admin/v1/teams/{id}; absent fields
// keep their value.
type TeamUpdate struct {
	Name             *string   `json:"name,omitempty"`
	AllowedModels    *[]string `json:"allowed_models,omitempty"`
	AllowedRegions   *[]string `json:"allowed_regions,omitempty"`
	AllowedProviders *[]string `json:"allowed_providers,omitempty"`
	RPM              *int      `json:"rpm,omitempty"`
	TPM              *int      `json:"tpm,omitempty"`
}

// UserCreate is the body of POST /admin/v1/users.
type UserCreate struct {
	OrgID string `json:"org_id"`
	Email string `json:"email"`
	// Role is one of the Role* constants.
	Role string `json:"role"`
}

// KeyCreate is the body of POST /admin/v1/keys.
type KeyCreate struct {
	Name string `json:"name"`
	// TeamID is required for team admins; OrgID defaults to the team's.
	TeamID             string            `json:"team_id,omitempty"`
	OrgID              string            `json:"org_id,omitempty"`
	UserID             string            `json:"user_id,omitempty"`
	AllowedModels      []string          `json:"allowed_models,omitempty"`
	AllowedRegions     []string          `json:"allowed_regions,omitempty"`
	AllowedProviders   []string          `json:"allowed_providers,omitempty"`
	RequireZDR         bool              `json:"require_zdr,omitempty"`
	AllowRouteOverride bool              `json:"allow_route_override,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	RPM                int               `json:"rpm,omitempty"`
	TPM                int               `json:"tpm,omitempty"`
	ExpiresAt          *time.Time        `json:"expires_at,omitempty"`
}

// KeyUpdate is the body of PATCH /admin/v1/keys/{id}; absent fields keep
// their value. Owners (org, team, user) cannot change.
type KeyUpdate struct {
	Name               *string            `json:"name,omitempty"`
	AllowedModels      *[]string          `json:"allowed_models,omitempty"`
	AllowedRegions     *[]string          `json:"allowed_regions,omitempty"`
	AllowedProviders   *[]string          `json:"allowed_providers,omitempty"`
	RequireZDR         *bool              `json:"require_zdr,omitempty"`
	AllowRouteOverride *bool              `json:"allow_route_override,omitempty"`
	Metadata           *map[string]string `json:"metadata,omitempty"`
	RPM                *int               `json:"rpm,omitempty"`
	TPM                *int               `json:"tpm,omitempty"`
	// ExpiresAt sets the expiry; ClearExpiry removes it.
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	ClearExpiry bool       `json:"clear_expiry,omitempty"`
}

// KeyRotate is the (optional) body of POST /admin/v1/keys/{id}/rotate.
type KeyRotate struct {
	// Grace is how long the old secret keeps working, as a Go duration
	// ("1h", "30m"). Default 24h; "0s" retires it at once.
	Grace string `json:"grace,omitempty"`
}

// KeySecret answers key creation and rotation. Secret is shown this once
// and can never be retrieved again.
type KeySecret struct {
	Secret string    `json:"secret"`
	Key    store.Key `json:"key"`
	// Previous is the rotated key with its grace period; or nil.
	Previous *store.Key `json:"previous,omitempty"`
}

// BudgetCreate is the body of POST /admin/v1/budgets.
type BudgetCreate struct {
	// Scope is key, team or org.
	Scope   string `json:"scope"`
	ScopeID string `json:"scope_id"`
	// Period is day, month (default) or window.
	Period      string     `json:"period,omitempty"`
	WindowStart *time.Time `json:"window_start,omitempty"`
	WindowEnd   *time.Time `json:"window_end,omitempty"`
	// LimitMicroUSD is the cap in millionths of a US dollar.
	LimitMicroUSD int64 `json:"limit_micro_usd"`
	// Mode is hard (default: block at the limit) or soft (alert only).
	Mode         string `json:"mode,omitempty"`
	AlertWebhook string `json:"alert_webhook,omitempty"`
}

// UsageReport answers GET /admin/v1/usage.
type UsageReport struct {
	From    time.Time          `json:"from"`
	To      time.Time          `json:"to"`
	GroupBy string             `json:"group_by"`
	Data    []store.UsageGroup `json:"data"`
}

// AuditVerify answers GET /admin/v1/audit/verify.
type AuditVerify struct {
	// OK is false when the verifier found issues.
	OK bool `json:"ok"`
	// Report is the verifier's full report.
	Report json.RawMessage `json:"report"`
}

// Decision is the body of POST /admin/v1/approvals/{id}/approve|deny.
type Decision struct {
	Comment string `json:"comment,omitempty"`
}
