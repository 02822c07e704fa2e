package store

import (
	"encoding/json"
	"time"
)

// Org is the top of the tenancy tree; teams, users and keys belong to one.
type Org struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Team groups keys and users inside an org. Its Allowed* lists intersect
// with each key's own lists; empty means no team-level restriction.
type Team struct {
	ID               string   `json:"id"`
	OrgID            string   `json:"org_id"`
	Name             string   `json:"name"`
	AllowedModels    []string `json:"allowed_models,omitempty"`
	AllowedRegions   []string `json:"allowed_regions,omitempty"`
	AllowedProviders []string `json:"allowed_providers,omitempty"`
	// RPM and TPM limit requests and tokens per minute across all the
	// team's keys; 0 means no limit.
	RPM       int       `json:"rpm,omitempty"`
	TPM       int       `json:"tpm,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a person who can own keys or act in the admin API.
type User struct {
	ID        string    `json:"id"`
	OrgID     string    `json:"org_id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Key is a virtual API key. Only the SHA-256 of the secret is stored; the
// secret is shown once, at creation, and can never be recovered from here.
type Key struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Prefix is the first 12 characters of the secret ("sk-sy-AbCdEf"),
	// kept so people can tell keys apart in lists and logs.
	Prefix string `json:"prefix"`
	// Hash is the lowercase hex SHA-256 of the full secret; unique.
	Hash   string `json:"-"`
	OrgID  string `json:"org_id,omitempty"`
	TeamID string `json:"team_id,omitempty"`
	UserID string `json:"user_id,omitempty"`
	// AllowedModels lists model aliases; "*" or empty means all.
	AllowedModels []string `json:"allowed_models,omitempty"`
	// AllowedRegions holds glob patterns such as "eu-*"; empty means any.
	AllowedRegions []string `json:"allowed_regions,omitempty"`
	// AllowedProviders lists provider names; empty means any.
	AllowedProviders   []string          `json:"allowed_providers,omitempty"`
	RequireZDR         bool              `json:"require_zdr,omitempty"`
	AllowRouteOverride bool              `json:"allow_route_override,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	// RPM and TPM are per-key rate limits; 0 means unlimited.
	RPM int `json:"rpm,omitempty"`
	TPM int `json:"tpm,omitempty"`
	// ExpiresAt, when set, ends the key's life; or nil.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// RevokedAt is set by RevokeKey; or nil.
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// GraceUntil is set on the old key by RotateKey: it keeps working
	// until then so clients can roll over; or nil.
	GraceUntil *time.Time `json:"grace_until,omitempty"`
	// RotatedTo is the ID of the successor after a rotation.
	RotatedTo string    `json:"rotated_to,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt moves on every change; KeysChangedSince feeds on it.
	UpdatedAt time.Time `json:"updated_at"`
}

// Budget scopes, periods and modes.
const (
	ScopeKey  = "key"
	ScopeTeam = "team"
	ScopeOrg  = "org"

	PeriodDay    = "day"
	PeriodMonth  = "month"
	PeriodWindow = "window"

	ModeSoft = "soft"
	ModeHard = "hard"
)

// Budget caps spend for one key, team or org over a period.
type Budget struct {
	ID      string `json:"id"`
	Scope   string `json:"scope"`
	ScopeID string `json:"scope_id"`
	Period  string `json:"period"`
	// WindowStart and WindowEnd bound a "window" budget; or nil.
	WindowStart   *time.Time `json:"window_start,omitempty"`
	WindowEnd     *time.Time `json:"window_end,omitempty"`
	LimitMicroUSD int64      `json:"limit_micro_usd"`
	// Mode "soft" alerts only; "hard" blocks once the limit is reached.
	Mode         string    `json:"mode"`
	AlertWebhook string    `json:"alert_webhook,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// UsageRecord is one finished request. RequestID is unique: inserting the
// same record twice is a no-op, which makes replays safe.
type UsageRecord struct {
	RequestID        string    `json:"request_id"`
	Time             time.Time `json:"time"`
	KeyID            string    `json:"key_id,omitempty"`
	TeamID           string    `json:"team_id,omitempty"`
	OrgID            string    `json:"org_id,omitempty"`
	Alias            string    `json:"alias,omitempty"`
	Deployment       string    `json:"deployment,omitempty"`
	Provider         string    `json:"provider,omitempty"`
	Region           string    `json:"region,omitempty"`
	ModelVersion     string    `json:"model_version,omitempty"`
	PromptTokens     int       `json:"prompt_tokens"`
	CompletionTokens int       `json:"completion_tokens"`
	CachedTokens     int       `json:"cached_tokens,omitempty"`
	// Estimated marks token counts the gateway computed itself because the
	// upstream reported none (e.g. an interrupted stream).
	Estimated    bool  `json:"estimated,omitempty"`
	CostMicroUSD int64 `json:"cost_micro_usd"`
	Status       int   `json:"status"`
	LatencyMS    int64 `json:"latency_ms"`
	Attempts     int   `json:"attempts"`
}

// UsageGroup is one row of an aggregated usage query.
type UsageGroup struct {
	Group            string `json:"group"`
	Requests         int64  `json:"requests"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	CachedTokens     int64  `json:"cached_tokens"`
	CostMicroUSD     int64  `json:"cost_micro_usd"`
}

// Audit actor kinds.
const (
	ActorKey    = "key"
	ActorAdmin  = "admin"
	ActorUser   = "user"
	ActorSystem = "system"
)

// AuditRecord is one link of the tamper-evident audit chain. Seq, PrevHash
// and Hash are assigned when the record is appended (see package audit).
type AuditRecord struct {
	Seq int64 `json:"seq"`
	// ID is unique per event so replayed appends are dropped, not doubled;
	// generated when empty.
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	ActorKind string    `json:"actor_kind"`
	ActorID   string    `json:"actor_id,omitempty"`
	TeamID    string    `json:"team_id,omitempty"`
	OrgID     string    `json:"org_id,omitempty"`
	// Action names what happened, e.g. "chat.completion" or "key.create".
	Action   string `json:"action"`
	Resource string `json:"resource,omitempty"`
	// Outcome summarises status, finish reason or error.
	Outcome       string          `json:"outcome,omitempty"`
	Details       json.RawMessage `json:"details,omitempty"`
	RequestDigest string          `json:"request_digest,omitempty"`
	PrevHash      string          `json:"prev_hash"`
	Hash          string          `json:"hash"`
}

// AuditCheckpoint is a signed statement that the chain up to Seq ends in
// Hash. Signature is Ed25519 over the bytes described in package audit.
type AuditCheckpoint struct {
	Seq         int64     `json:"seq"`
	Hash        string    `json:"hash"`
	Signature   []byte    `json:"signature"`
	PublicKeyID string    `json:"public_key_id"`
	Time        time.Time `json:"time"`
}

// ChainHead is the last link of the audit chain; zero for an empty chain.
type ChainHead struct {
	Seq  int64
	Hash string
}

// Approval statuses.
const (
	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalDenied   = "denied"
	ApprovalExpired  = "expired"
)

// Approval is a tool call or answer held until a person decides on it.
type Approval struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	KeyID  string `json:"key_id,omitempty"`
	TeamID string `json:"team_id,omitempty"`
	Tool   string `json:"tool,omitempty"`
	// ArgumentsRedacted is the tool arguments with secrets masked, for display.
	ArgumentsRedacted string `json:"arguments_redacted,omitempty"`
	// Digest identifies the exact held request so a decision cannot be
	// replayed onto a different one.
	Digest        string     `json:"digest,omitempty"`
	PolicyVersion string     `json:"policy_version,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	DecidedBy     string     `json:"decided_by,omitempty"`
	DecidedAt     *time.Time `json:"decided_at,omitempty"`
	Comment       string     `json:"comment,omitempty"`
	// Payload is the held answer, released on approval.
	Payload json.RawMessage `json:"payload,omitempty"`
}
