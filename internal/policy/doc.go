// Package policy evaluates the gateway's request and tool rules, written
// in CEL and compiled once when the configuration loads.
//
// Each rule is a boolean CEL expression (When) and an effect. The
// variables a rule can use are typed, so a misspelt field or a comparison
// of the wrong types fails at load time, naming the rule:
//
//	request.key_id, request.team, request.org, request.alias,
//	request.deployment, request.provider, request.region (string)
//	request.time (timestamp), request.hour (int, 0-23, in the time's zone)
//	request.estimated_cost_usd (double), request.stream (bool)
//	request.metadata (map(string, string))
//	dlp.findings (list(string): detector names), dlp.count (int)
//	tool.name (string), tool.arguments (map(string, dyn): parsed JSON)
//
// A rule that mentions tool is a tool rule: it is evaluated by
// EvaluateTool, once per tool declared in a request or called in an
// answer; the other rules are request rules, evaluated by
// EvaluateRequest.
//
// Precedence: deny beats require_approval, which beats route and redact,
// which beat allow. Within one level the first matching rule wins, in
// order of descending Priority and then of declaration. No match is
// allow. A rule whose evaluation fails at run time (a missing map key,
// say) does not match; Decision.Errors reports it so the gateway can log
// it. Guard optional keys with `"k" in request.metadata`.
//
// The package is pure: no I/O, safe for concurrent use.
package policy
