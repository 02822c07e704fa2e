-- Initial schema. Times are Unix microseconds; lists and maps are JSON text.
CREATE TABLE orgs (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE teams (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	name TEXT NOT NULL,
	allowed_models TEXT NOT NULL DEFAULT '[]',
	allowed_regions TEXT NOT NULL DEFAULT '[]',
	allowed_providers TEXT NOT NULL DEFAULT '[]',
	created_at BIGINT NOT NULL
);
CREATE INDEX teams_org ON teams (org_id);

CREATE TABLE users (
	id TEXT PRIMARY KEY,
	org_id TEXT NOT NULL,
	email TEXT NOT NULL,
	role TEXT NOT NULL,
	created_at BIGINT NOT NULL
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
	require_zdr BOOLEAN NOT NULL DEFAULT FALSE,
	allow_route_override BOOLEAN NOT NULL DEFAULT FALSE,
	metadata TEXT NOT NULL DEFAULT '{}',
	rpm BIGINT NOT NULL DEFAULT 0,
	tpm BIGINT NOT NULL DEFAULT 0,
	expires_at BIGINT,
	revoked_at BIGINT,
	grace_until BIGINT,
	rotated_to TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX keys_updated ON keys (updated_at);
CREATE INDEX keys_team ON keys (team_id);

CREATE TABLE budgets (
	id TEXT PRIMARY KEY,
	scope TEXT NOT NULL,
	scope_id TEXT NOT NULL,
	period TEXT NOT NULL,
	window_start BIGINT,
	window_end BIGINT,
	limit_micro_usd BIGINT NOT NULL,
	mode TEXT NOT NULL,
	alert_webhook TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);
CREATE INDEX budgets_scope ON budgets (scope, scope_id);

CREATE TABLE usage_records (
	request_id TEXT PRIMARY KEY,
	time BIGINT NOT NULL,
	key_id TEXT NOT NULL,
	team_id TEXT NOT NULL,
	org_id TEXT NOT NULL,
	alias TEXT NOT NULL,
	deployment TEXT NOT NULL,
	provider TEXT NOT NULL,
	region TEXT NOT NULL,
	model_version TEXT NOT NULL,
	prompt_tokens BIGINT NOT NULL,
	completion_tokens BIGINT NOT NULL,
	cached_tokens BIGINT NOT NULL,
	estimated BOOLEAN NOT NULL,
	cost_micro_usd BIGINT NOT NULL,
	status BIGINT NOT NULL,
	latency_ms BIGINT NOT NULL,
	attempts BIGINT NOT NULL
);
CREATE INDEX usage_time ON usage_records (time);
CREATE INDEX usage_key_time ON usage_records (key_id, time);
CREATE INDEX usage_team_time ON usage_records (team_id, time);
CREATE INDEX usage_org_time ON usage_records (org_id, time);

CREATE TABLE audit_records (
	seq BIGINT PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	time BIGINT NOT NULL,
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
	seq BIGINT PRIMARY KEY,
	hash TEXT NOT NULL,
	signature BYTEA NOT NULL,
	public_key_id TEXT NOT NULL,
	time BIGINT NOT NULL
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
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	decided_by TEXT NOT NULL DEFAULT '',
	decided_at BIGINT,
	comment TEXT NOT NULL DEFAULT '',
	payload TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approvals_status ON approvals (status, expires_at);
