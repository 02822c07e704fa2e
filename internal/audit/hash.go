package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/switchyard/switchyard/internal/store"
)

// recordDomain and checkpointDomain separate the two signed/hashed
// formats so one can never be passed off as the other.
const (
	recordDomain     = "switchyard.audit.record.v1\n"
	checkpointDomain = "switchyard.audit.checkpoint.v1\n"
)

// CanonicalRecord returns the bytes RecordHash hashes. The format is
// stable; changing it needs a new domain string:
//
//	"switchyard.audit.record.v1\n"
//	then, for each field in this order, "<name>=<len>:<value>\n", where
//	len is the decimal byte length of value:
//	id, time (Unix microseconds, decimal), actor_kind, actor_id, team_id,
//	org_id, action, resource, outcome, details (raw bytes as stored),
//	request_digest, prev_hash.
//
// Seq is deliberately not hashed: a record's position is fixed by
// prev_hash, and checkpoints bind seq to hash. Leaving it out lets Verify
// tell a reordered or inserted record apart from a modified one.
func CanonicalRecord(r store.AuditRecord) []byte {
	b := make([]byte, 0, 256+len(r.Details))
	b = append(b, recordDomain...)
	field := func(name, v string) {
		b = append(b, name...)
		b = append(b, '=')
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
		b = append(b, '\n')
	}
	var t int64
	if !r.Time.IsZero() {
		t = r.Time.UnixMicro()
	}
	field("id", r.ID)
	field("time", strconv.FormatInt(t, 10))
	field("actor_kind", r.ActorKind)
	field("actor_id", r.ActorID)
	field("team_id", r.TeamID)
	field("org_id", r.OrgID)
	field("action", r.Action)
	field("resource", r.Resource)
	field("outcome", r.Outcome)
	field("details", string(r.Details))
	field("request_digest", r.RequestDigest)
	field("prev_hash", r.PrevHash)
	return b
}

// RecordHash is the lowercase hex SHA-256 of CanonicalRecord(r).
func RecordHash(r store.AuditRecord) string {
	sum := sha256.Sum256(CanonicalRecord(r))
	return hex.EncodeToString(sum[:])
}

// Seal is the store.SealFunc of the chain: it numbers recs after head,
// links each to its predecessor and computes its Hash.
func Seal(head store.ChainHead, recs []store.AuditRecord) error {
	prev := head.Hash
	for i := range recs {
		recs[i].Time = store.Truncate(recs[i].Time)
		recs[i].Seq = head.Seq + int64(i) + 1
		recs[i].PrevHash = prev
		recs[i].Hash = RecordHash(recs[i])
		prev = recs[i].Hash
	}
	return nil
}

// CheckpointMessage returns the bytes a checkpoint signs:
// "switchyard.audit.checkpoint.v1\n" || seq (8 bytes, big-endian) ||
// the record hash as lowercase hex.
func CheckpointMessage(seq int64, hash string) []byte {
	b := make([]byte, 0, len(checkpointDomain)+8+len(hash))
	b = append(b, checkpointDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	return append(b, hash...)
}

// PublicKeyID names a verification key: the first 8 bytes of its
// SHA-256, in hex.
func PublicKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}
