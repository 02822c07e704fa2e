package api

import (
	"encoding/hex"
	"testing"
	"time"
)

// TestNewRequestIDLeadsWithTheTime: request ids made later sort later by
// their time part, carry the current millisecond, and never repeat.
func TestNewRequestIDLeadsWithTheTime(t *testing.T) {
	const n = 20_000
	before := time.Now().UnixMilli()
	seen := make(map[string]bool, n)
	prev := ""
	for range n {
		id := NewRequestID()
		raw, err := hex.DecodeString(id[len("req_"):])
		if len(id) != len("req_")+24 || id[:4] != "req_" || err != nil {
			t.Fatalf("malformed id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		if id[:16] < prev {
			t.Fatalf("time part went back: %q after %q", id[:16], prev)
		}
		prev = id[:16]
		var ms int64
		for _, b := range raw[:6] {
			ms = ms<<8 | int64(b)
		}
		if ms < before || ms > time.Now().UnixMilli() {
			t.Fatalf("id %q says %d ms; made between %d and now", id, ms, before)
		}
	}
}
