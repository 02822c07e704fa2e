package audit

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"

	"github.com/switchyard/switchyard/internal/store"
)

// IssueKind classifies what Verify found.
type IssueKind string

// Issue kinds.
const (
	// Modified: the record's contents no longer match its Hash (or its
	// Hash column was rewritten so its successor no longer links to it).
	Modified IssueKind = "modified"
	// Deleted: a sequence number is missing.
	Deleted IssueKind = "deleted"
	// Inserted: the record is not part of the original chain.
	Inserted IssueKind = "inserted"
	// Reordered: the record sits at the wrong sequence number.
	Reordered IssueKind = "reordered"
	// BadSignature: a checkpoint's signature does not verify.
	BadSignature IssueKind = "bad_signature"
	// CheckpointMismatch: the record at a checkpoint's Seq does not carry
	// the signed hash.
	CheckpointMismatch IssueKind = "checkpoint_mismatch"
)

// Issue is one problem at one sequence number.
type Issue struct {
	Seq    int64     `json:"seq"`
	Kind   IssueKind `json:"kind"`
	Detail string    `json:"detail"`
}

// Report is the outcome of Verify.
type Report struct {
	// FirstSeq and LastSeq bound the records examined.
	FirstSeq, LastSeq int64
	Records           int
	// Checkpoints counts checkpoints whose signature verified.
	Checkpoints int
	// AnchorSeq is the checkpoint the walk started from after a purge;
	// 0 when the chain is complete from seq 1.
	AnchorSeq int64
	// Issues is sorted by Seq; empty when the chain is intact.
	Issues []Issue
}

// OK reports whether the chain verified without issues.
func (r Report) OK() bool { return len(r.Issues) == 0 }

type link struct {
	seq       int64
	hash      string
	prev      string
	contentOK bool
}

const verifyPage = 1000

// Verify re-walks the whole chain in st and checks checkpoint signatures
// with pub. The error is for failures to read; tampering is in Report.
func Verify(ctx context.Context, st store.AuditStore, pub ed25519.PublicKey) (Report, error) {
	var rep Report
	cps, err := st.Checkpoints(ctx)
	if err != nil {
		return rep, err
	}
	var links []link
	for from := int64(0); ; {
		page, err := st.AuditRecords(ctx, store.AuditFilter{FromSeq: from, Limit: verifyPage})
		if err != nil {
			return rep, err
		}
		for _, r := range page {
			links = append(links, link{seq: r.Seq, hash: r.Hash, prev: r.PrevHash, contentOK: RecordHash(r) == r.Hash})
		}
		if len(page) < verifyPage {
			break
		}
		from = page[len(page)-1].Seq + 1
	}
	v := &verifier{rep: &rep, links: links, flagged: map[int64]bool{}, seqOf: make(map[string]int64, len(links))}
	for _, l := range links {
		v.seqOf[l.hash] = l.seq
	}
	validCP := v.checkSignatures(cps, pub)
	if len(links) > 0 {
		rep.FirstSeq, rep.LastSeq, rep.Records = links[0].seq, links[len(links)-1].seq, len(links)
		v.anchor(validCP)
		for _, l := range links {
			if !l.contentOK {
				v.flag(l.seq, Modified, "contents do not match the stored hash")
			}
		}
		if !v.reorders() {
			v.walk()
		}
	}
	v.checkpoints(cps, validCP)
	slices.SortStableFunc(rep.Issues, func(a, b Issue) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	return rep, nil
}

type verifier struct {
	rep     *Report
	links   []link
	seqOf   map[string]int64
	flagged map[int64]bool
}

func (v *verifier) flag(seq int64, kind IssueKind, detail string) {
	v.flagged[seq] = true
	v.rep.Issues = append(v.rep.Issues, Issue{Seq: seq, Kind: kind, Detail: detail})
}

func (v *verifier) missing(from, to int64, why string) {
	for s := from; s <= to; s++ {
		v.flag(s, Deleted, why)
	}
}

func (v *verifier) checkSignatures(cps []store.AuditCheckpoint, pub ed25519.PublicKey) map[int64]bool {
	valid := map[int64]bool{}
	for _, cp := range cps {
		if len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, CheckpointMessage(cp.Seq, cp.Hash), cp.Signature) {
			valid[cp.Seq] = true
			v.rep.Checkpoints++
			continue
		}
		v.rep.Issues = append(v.rep.Issues, Issue{Seq: cp.Seq, Kind: BadSignature,
			Detail: fmt.Sprintf("checkpoint signature does not verify with key %s (signed by %s)", PublicKeyID(pub), cp.PublicKeyID)})
	}
	return valid
}

// anchor decides where the chain must start: seq 1 with an empty
// PrevHash, or (after Purge) a signed checkpoint at the first record.
func (v *verifier) anchor(validCP map[int64]bool) {
	first := v.links[0]
	switch {
	case first.seq == 1:
	case validCP[first.seq]:
		v.rep.AnchorSeq = first.seq
	default:
		// After a Purge the oldest retained checkpoint marks where the
		// chain legitimately starts; anything between it and the first
		// record was deleted. Without one, the chain must start at 1.
		from := int64(1)
		for s := range validCP {
			if s < first.seq && (from == 1 || s < from) {
				from = s
			}
		}
		v.missing(from, first.seq-1, "records before the first retained one are gone and no signed checkpoint anchors the rest")
	}
}

// reorders follows prev_hash links from the first record. When they reach
// every record exactly once, nothing was added or removed, and any record
// whose link position differs from its Seq was moved. It reports whether
// it handled the chain.
func (v *verifier) reorders() bool {
	next := make(map[string]int, len(v.links))
	for i, l := range v.links {
		if _, dup := next[l.prev]; dup {
			return false // two records claim one predecessor: an insertion
		}
		next[l.prev] = i
	}
	start := 0
	if v.rep.AnchorSeq == 0 {
		// From genesis the first link is the record with no predecessor,
		// wherever it now sits.
		start = slices.IndexFunc(v.links, func(l link) bool { return l.prev == "" })
		if start < 0 {
			return false
		}
	}
	order := []int{start}
	seen := map[int]bool{start: true}
	for cur := start; ; {
		n, ok := next[v.links[cur].hash]
		if !ok || seen[n] {
			break
		}
		order, cur = append(order, n), n
		seen[n] = true
	}
	if len(order) != len(v.links) {
		return false
	}
	base := v.links[0].seq
	for pos, idx := range order {
		l := v.links[idx]
		if want := base + int64(pos); l.seq != want {
			v.flag(l.seq, Reordered, fmt.Sprintf("links after the record that belongs at seq %d; it was moved", want-1))
		}
	}
	return true
}

// walk checks links in Seq order and attributes each break.
func (v *verifier) walk() {
	if first := v.links[0]; first.seq == 1 && first.prev != "" && !v.flagged[1] {
		if _, known := v.seqOf[first.prev]; known {
			v.flag(1, Reordered, "the first record links to a later one")
		} else {
			v.flag(1, Inserted, "the first record must have an empty prev_hash")
		}
	}
	for i := 1; i < len(v.links); i++ {
		p, r := v.links[i-1], v.links[i]
		if r.seq > p.seq+1 {
			v.missing(p.seq+1, r.seq-1, "sequence gap")
			continue
		}
		if r.prev == p.hash || v.flagged[p.seq] || v.flagged[r.seq] {
			continue
		}
		owner, known := v.seqOf[r.prev]
		switch {
		case known && owner < p.seq:
			// r links back past p: whatever sits between was slipped in.
			for s := owner + 1; s <= p.seq; s++ {
				if !v.flagged[s] {
					v.flag(s, Inserted, fmt.Sprintf("seq %d links to seq %d, skipping this record", r.seq, owner))
				}
			}
		case known:
			v.flag(r.seq, Reordered, fmt.Sprintf("links to seq %d, which comes after it", owner))
		case i+1 < len(v.links) && v.links[i+1].prev == r.hash:
			// r's successor accepts r, so r's own predecessor changed:
			// p's hash column was rewritten.
			v.flag(p.seq, Modified, "stored hash was rewritten; the next record no longer links to it")
		default:
			v.flag(r.seq, Inserted, "prev_hash matches no stored record")
		}
	}
}

func (v *verifier) checkpoints(cps []store.AuditCheckpoint, validCP map[int64]bool) {
	byseq := make(map[int64]link, len(v.links))
	for _, l := range v.links {
		byseq[l.seq] = l
	}
	last := int64(0)
	if len(v.links) > 0 {
		last = v.links[len(v.links)-1].seq
	}
	for _, cp := range cps {
		if !validCP[cp.Seq] {
			continue
		}
		l, ok := byseq[cp.Seq]
		switch {
		case !ok && cp.Seq > last:
			v.missing(last+1, cp.Seq, "records up to a signed checkpoint were cut off the end")
		case !ok:
			// Already reported as a gap by the walk.
		case l.hash != cp.Hash:
			v.rep.Issues = append(v.rep.Issues, Issue{Seq: cp.Seq, Kind: CheckpointMismatch,
				Detail: "stored hash differs from the signed checkpoint"})
		}
	}
}
