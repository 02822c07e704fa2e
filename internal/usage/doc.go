// Package usage moves usage (and audit) records off the request path.
//
// A Batcher accepts records into a bounded in-memory queue and a single
// goroutine writes them to a Sink in batches, one transaction each. When
// the queue is full, or the store keeps failing, records are appended to
// a local JSON Lines spill file that a catch-up loop replays once there is
// room. Close writes everything; nothing is dropped silently. Sinks must
// be idempotent per record, because a crash between a replayed write and
// the spill file's removal replays that batch again.
package usage
