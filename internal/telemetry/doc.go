// Package telemetry makes the gateway observable: Prometheus metrics on a
// dedicated registry (per-call counters and histograms, plus the router's
// live deployment state read at scrape time) and OpenTelemetry spans per
// gateway call with W3C trace-context propagation.
//
// Both plug into the gateway as stages; neither imports a front door.
package telemetry
