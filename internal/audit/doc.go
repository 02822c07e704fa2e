// Package audit keeps a tamper-evident, hash-chained audit log with
// signed checkpoints.
//
// Every record's Hash is SHA-256 over a canonical encoding of its fields
// and the previous record's Hash (see RecordHash), so changing, removing,
// adding or reordering a stored record breaks the chain where it happened.
// Every N records or T seconds a Chain signs the head with Ed25519
// (see CheckpointMessage); checkpoints pin the chain against a rewrite of
// everything after a point and let retention (Purge) drop old records
// while keeping the rest verifiable.
//
// Appends go through a usage.Batcher, so the request path only enqueues.
// Ordering across replicas comes from the store (AppendAudit holds a
// database lock while sealing), not from this process.
//
// Limits: records appended after the newest checkpoint can be rewritten
// wholesale, or cut off the end, by someone with database write access and
// the algorithm; a record purge that removes everything before the oldest
// checkpoint looks the same as a legitimate Purge.
package audit
