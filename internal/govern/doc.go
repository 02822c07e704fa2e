// Package govern holds the identity-scoped spend stages the gateway runs
// around every model call: rate limits (admission), budget reservations,
// usage records and audit records (accounting).
//
// Stages share per-call state through gateway.Call.Set/Get under these
// keys, so that a call is priced and counted once:
//
//	"govern.meter"       *meter: text a stream or answer carried, for estimates
//	"govern.usage"       *Usage: the call's usage, reported or estimated
//	"govern.cost"        int64: the call's cost in micro-USD
//	"govern.ratelimit"   the rate-limit checks charged before the call
//	"govern.reservation" *budget.Reservation held before the call
//
// The audit stage also reads "policy.decisions" (any JSON-encodable
// value), which the policy stage may set, and copies it into the record.
package govern
