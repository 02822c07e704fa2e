-- Initial schema. Times are Unix microseconds; lists and maps are JSON text.
CREATE TABLE orgs (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

CREATE TABLE teams (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	name TEXT NOT NULL,
	allowed_models TEXT NOT NULL DEFAULT '[]',
	allowed_regions TEXT NOT NULL DEFAULT '[]',
	allowed_providers TEXT NOT NULL DEFAULT '[]',
	created_at INTEGER NOT NULL
);
CREATE INDEX teams_org ON teams (org_id);

CREATE TABLE users (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	email TEXT NOT NULL,
	role TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_org_email ON users (org_id, email);

CREATE TABLE keys (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	prefix TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	org_id TEXT NOT NULL,
	team_id TEXT NOT NULL,
	user_id TEXT NOT NULL,
	allowed_models TEXT NOT NULL DEFAULT '[]',
	allowed_regions TEXT NOT NULL DEFAULT '[]',
	allowed_providers TEXT NOT NULL DEFAULT '[]',
	require_zdr INTEGER NOT NULL DEFAULT 0,
	allow_route_override INTEGER NOT NULL DEFAULT 0,
	metadata TEXT NOT NULL DEFAULT '{}',
	rpm INTEGER NOT NULL DEFAULT 0,
	tpm INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER,
	revoked_at INTEGER,
	grace_until INTEGER,
	rotated_to TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX keys_updated ON keys (updated_at);
CREATE INDEX keys_team ON keys (team_id);

CREATE TABLE budgets (
	id TEXT PRIMARY KEY,
	scope TEXT NOT NULL,
	scope_id TEXT NOT NULL,
	period TEXT NOT NULL,
	window_start INTEGER,
	window_end INTEGER,
	limit_micro_usd INTEGER NOT NULL,
	mode TEXT NOT NULL,
	alert_webhook TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL
);
CREATE INDEX budgets_scope ON budgets (scope, scope_id);

CREATE TABLE usage_records (
	request_id TEXT PRIMARY KEY,
	time INTEGER NOT NULL,
	key_id TEXT NOT NULL,
	team_id TEXT NOT NULL,
	org_id TEXT NOT NULL,
	alias TEXT NOT NULL,
	deployment TEXT NOT NULL,
	provider TEXT NOT NULL,
	region TEXT NOT NULL,
	model_version TEXT NOT NULL,
	prompt_tokens INTEGER NOT NULL,
	completion_tokens INTEGER NOT NULL,
	cached_tokens INTEGER NOT NULL,
	estimated INTEGER NOT NULL,
	cost_micro_usd INTEGER NOT NULL,
	status INTEGER NOT NULL,
	latency_ms INTEGER NOT NULL,
	attempts INTEGER NOT NULL
);
CREATE INDEX usage_time ON usage_records (time);
CREATE INDEX usage_key_time ON usage_records (key_id, time);
CREATE INDEX usage_team_time ON usage_records (team_id, time);
CREATE INDEX usage_org_time ON usage_records (org_id, time);

CREATE TABLE audit_records (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	time INTEGER NOT NULL,
	actor_kind TEXT NOT NULL,
	actor_id TEXT NOT NULL,
	team_id TEXT NOT NULL,
	org_id TEXT NOT NULL,
	action TEXT NOT NULL,
	resource TEXT NOT NULL,
	outcome TEXT NOT NULL,
	details TEXT NOT NULL,
	request_digest TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE INDEX audit_time ON audit_records (time);

CREATE TABLE audit_checkpoints (
	seq INTEGER PRIMARY KEY,
	hash TEXT NOT NULL,
	signature BLOB NOT NULL,
	public_key_id TEXT NOT NULL,
	time INTEGER NOT NULL
);

CREATE TABLE approvals (
	id TEXT PRIMARY KEY,
	status TEXT NOT NULL,
	key_id TEXT NOT NULL,
	team_id TEXT NOT NULL,
	tool TEXT NOT NULL,
	arguments_redacted TEXT NOT NULL,
	digest TEXT NOT NULL,
	policy_version TEXT NOT NULL,
	reason TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	decided_at INTEGER,
	comment TEXT NOT NULL DEFAULT '',
	payload TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approvals_status ON approvals (status, expires_at);
