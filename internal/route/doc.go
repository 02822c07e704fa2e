// Package route decides, per request, which deployment of a model alias
// answers, and retries and fails over so that a throttled or failing cloud
// goes unnoticed by the client.
//
// A Router holds pools (one per alias) of Deployments. Choosing a
// deployment reads only per-deployment atomics: requests never contend on
// a router-wide lock. The router learns health passively from live traffic
// (a circuit breaker, latency averages and per-minute quota counters per
// deployment) and, optionally, from active probes.
//
// The package calls no provider itself: the gateway passes an attempt
// function to Do, and reports what happens after Do returns (stream ends,
// token usage) through the Deployment's Observe methods.
package route
