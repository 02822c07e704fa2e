// Package store persists Switchyard's control-plane state: virtual keys,
// orgs/teams/users, budgets, usage records, the audit chain and approvals.
//
// One Store interface has two engines behind it, chosen by [Open] from the
// DSN: embedded SQLite (modernc.org/sqlite, no cgo) for single-node
// deployments and PostgreSQL (pgx, pgxpool) for many replicas. Both share
// one SQL implementation; only placeholders, column types and the
// migration files differ. Migrations are embedded and run on Open.
//
// Timestamps are stored as Unix microseconds (BIGINT) in both engines so
// that values round-trip bit-for-bit: the audit chain hashes them, and
// PostgreSQL's TIMESTAMPTZ would silently drop nanoseconds. Free-form JSON
// (Details, Payload) is stored as TEXT, never JSONB, for the same reason:
// JSONB reorders keys and would break the hashes.
//
// The request path never writes here directly; see package usage for the
// asynchronous batcher and package auth for the in-memory key cache.
package store
