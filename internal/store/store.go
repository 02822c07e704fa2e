package store

import (
	"context"
	"errors"
	"time"
)

// Typed errors; test with errors.Is.
var (
	// ErrNotFound means no row matched the ID or lookup.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means the write collided with existing state: a duplicate
	// ID or hash, or a state transition that is no longer allowed.
	ErrConflict = errors.New("store: conflict")
)

// Store is the whole persistence surface; the concern-sized interfaces it
// embeds let callers depend on only what they use.
type Store interface {
	KeyStore
	DirectoryStore
	BudgetStore
	UsageStore
	AuditStore
	ApprovalStore
	// Ping reports whether the database answers; use it for readiness.
	Ping(ctx context.Context) error
	// Close releases connections; the Store is unusable afterwards.
	Close() error
}

// KeyFilter narrows ListKeys. Empty fields match everything.
type KeyFilter struct {
	OrgID  string
	TeamID string
	UserID string
	// IncludeRevoked also returns revoked keys.
	IncludeRevoked bool
	// Limit caps the result; 0 means no cap.
	Limit int
}

// KeyStore manages virtual keys.
type KeyStore interface {
	// CreateKey inserts k, generating ID when empty and setting CreatedAt
	// and UpdatedAt. A duplicate ID or Hash is ErrConflict.
	CreateKey(ctx context.Context, k Key) (Key, error)
	// Key returns the key with id, or ErrNotFound.
	Key(ctx context.Context, id string) (Key, error)
	// KeyByHash returns the key whose secret hashes to hash, or ErrNotFound.
	KeyByHash(ctx context.Context, hash string) (Key, error)
	// ListKeys returns keys matching f, newest first.
	ListKeys(ctx context.Context, f KeyFilter) ([]Key, error)
	// UpdateKey replaces the mutable policy fields (name, allow lists,
	// flags, metadata, limits, expiry) of the key with k.ID.
	UpdateKey(ctx context.Context, k Key) (Key, error)
	// RevokeKey marks the key revoked at at. Revoking twice keeps the
	// first time and succeeds.
	RevokeKey(ctx context.Context, id string, at time.Time) (Key, error)
	// RotateKey inserts successor and, in the same transaction, sets the
	// old key's GraceUntil and RotatedTo. Rotating a revoked or already
	// rotated key is ErrConflict. It returns the stored successor.
	RotateKey(ctx context.Context, id string, successor Key, graceUntil time.Time) (Key, error)
	// KeysChangedSince returns every key (revoked included) whose
	// UpdatedAt is at or after t, oldest change first.
	KeysChangedSince(ctx context.Context, t time.Time) ([]Key, error)
}

// DirectoryStore manages orgs, teams and users.
type DirectoryStore interface {
	CreateOrg(ctx context.Context, o Org) (Org, error)
	Org(ctx context.Context, id string) (Org, error)
	ListOrgs(ctx context.Context) ([]Org, error)

	CreateTeam(ctx context.Context, t Team) (Team, error)
	Team(ctx context.Context, id string) (Team, error)
	// ListTeams returns the teams of orgID, or of every org when empty.
	ListTeams(ctx context.Context, orgID string) ([]Team, error)
	// UpdateTeam replaces the name and allow lists of the team with t.ID.
	UpdateTeam(ctx context.Context, t Team) (Team, error)

	CreateUser(ctx context.Context, u User) (User, error)
	User(ctx context.Context, id string) (User, error)
	// UserByEmail looks a user up by email (case-insensitive) in orgID.
	UserByEmail(ctx context.Context, orgID, email string) (User, error)
	// ListUsers returns the users of orgID, or of every org when empty.
	ListUsers(ctx context.Context, orgID string) ([]User, error)
}

// BudgetFilter narrows ListBudgets. Empty fields match everything.
type BudgetFilter struct {
	Scope   string
	ScopeID string
}

// BudgetStore manages budget definitions; spend comes from UsageStore.
type BudgetStore interface {
	CreateBudget(ctx context.Context, b Budget) (Budget, error)
	Budget(ctx context.Context, id string) (Budget, error)
	ListBudgets(ctx context.Context, f BudgetFilter) ([]Budget, error)
	DeleteBudget(ctx context.Context, id string) error
}

// Usage grouping dimensions for SumUsage.
const (
	GroupByOrg      = "org"
	GroupByTeam     = "team"
	GroupByKey      = "key"
	GroupByModel    = "model"
	GroupByProvider = "provider"
	GroupByRegion   = "region"
)

// UsageQuery selects and groups usage over [From, To).
type UsageQuery struct {
	// GroupBy is one of the GroupBy* constants.
	GroupBy string
	From    time.Time
	To      time.Time
	// OrgID, TeamID and KeyID filter when set.
	OrgID  string
	TeamID string
	KeyID  string
}

// UsageStore records and aggregates usage.
type UsageStore interface {
	// InsertUsage writes recs in one transaction. Records whose RequestID
	// already exists are skipped; the count of new rows is returned.
	InsertUsage(ctx context.Context, recs []UsageRecord) (int, error)
	// SumUsage aggregates usage per group, largest cost first.
	SumUsage(ctx context.Context, q UsageQuery) ([]UsageGroup, error)
	// Spend returns the cost of scope ("key"|"team"|"org") scopeID over
	// [from, to), for budget reconciliation.
	Spend(ctx context.Context, scope, scopeID string, from, to time.Time) (int64, error)
}

// SealFunc fills Seq, PrevHash and Hash of recs, in order, continuing from
// head. AppendAudit calls it while holding the chain's write lock.
type SealFunc func(head ChainHead, recs []AuditRecord) error

// AuditFilter selects audit records. Zero fields match everything.
type AuditFilter struct {
	// FromSeq is the first sequence number to return (inclusive).
	FromSeq int64
	// From and To bound Time to [From, To).
	From   time.Time
	To     time.Time
	TeamID string
	// Limit caps the result; 0 means no cap.
	Limit int
}

// AuditStore holds the audit chain and its signed checkpoints.
type AuditStore interface {
	// AppendAudit drops records whose ID is already stored (replays), then
	// locks the chain, calls seal with the current head and inserts the
	// sealed records in one transaction. Safe across replicas. It returns
	// the records actually appended.
	AppendAudit(ctx context.Context, recs []AuditRecord, seal SealFunc) ([]AuditRecord, error)
	// AuditHead returns the last link; zero when the chain is empty.
	AuditHead(ctx context.Context) (ChainHead, error)
	// AuditRecords returns records matching f in Seq order.
	AuditRecords(ctx context.Context, f AuditFilter) ([]AuditRecord, error)
	// InsertCheckpoint stores cp; a second checkpoint at the same Seq is
	// ErrConflict.
	InsertCheckpoint(ctx context.Context, cp AuditCheckpoint) error
	// Checkpoints returns every checkpoint in Seq order.
	Checkpoints(ctx context.Context) ([]AuditCheckpoint, error)
	// PurgeAudit deletes records and checkpoints with Seq < beforeSeq and
	// returns how many records went.
	PurgeAudit(ctx context.Context, beforeSeq int64) (int64, error)
}

// ApprovalFilter narrows ListApprovals. Empty fields match everything.
type ApprovalFilter struct {
	Status string
	TeamID string
	KeyID  string
	Limit  int
}

// Decision is a person's verdict on a pending approval.
type Decision struct {
	// Status is ApprovalApproved or ApprovalDenied.
	Status  string
	By      string
	Comment string
	At      time.Time
}

// ApprovalStore manages held requests awaiting a human decision.
type ApprovalStore interface {
	// CreateApproval inserts a, generating ID and defaulting Status to
	// pending.
	CreateApproval(ctx context.Context, a Approval) (Approval, error)
	Approval(ctx context.Context, id string) (Approval, error)
	ListApprovals(ctx context.Context, f ApprovalFilter) ([]Approval, error)
	// DecideApproval moves a pending approval to d.Status. Repeating the
	// same decision returns the stored approval and no error; a different
	// decision, or deciding an expired one, is ErrConflict.
	DecideApproval(ctx context.Context, id string, d Decision) (Approval, error)
	// ExpireApprovals marks pending approvals whose ExpiresAt <= now as
	// expired and returns how many changed.
	ExpireApprovals(ctx context.Context, now time.Time) (int64, error)
}
