// Package admin serves the admin API under /admin/v1/: orgs, teams,
// users, virtual keys (create, rotate with a grace period, revoke),
// budgets, usage reports, the audit export and its verification,
// approvals and the router's deployment status.
//
// Callers authenticate with the bootstrap token (role admin) or, when
// OIDC is configured, an SSO token whose claims map to one of four roles
// (see adminv1.Role*). Permissions are checked per endpoint and, for team
// admins, per team. Every change, and every denied attempt at one, is
// written to the audit chain through Options.Audit.
package admin
