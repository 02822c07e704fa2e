package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// TestOpenSQLitePathsWithURICharacters: '?', '#' and '%' are ordinary
// file name characters in a SQLite DSN. Each pair of names below once
// opened one and the same file (the part before '?' or '#', or the
// %-decoded name), so a second store saw the first one's data.
func TestOpenSQLitePathsWithURICharacters(t *testing.T) {
	tests := []struct {
		desc   string
		scheme string
		a, b   string
	}{
		{"question mark", "sqlite://", "data?1.db", "data?2.db"},
		{"hash", "sqlite:", "log#1.db", "log#2.db"},
		{"both, in the folder too", "", filepath.Join("we?ird#dir", "s?x#1.db"), filepath.Join("we?ird#dir", "s?x#2.db")},
		{"percent escape", "sqlite://", "100%41.db", "100A.db"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			pathA, pathB := filepath.Join(dir, tt.a), filepath.Join(dir, tt.b)
			a, err := store.Open(ctx, tt.scheme+pathA)
			if err != nil {
				t.Fatalf("Open(%q): %v", pathA, err)
			}
			defer a.Close()
			k, err := a.CreateKey(ctx, store.Key{Prefix: "p", Hash: "h"})
			if err != nil {
				t.Fatal(err)
			}
			b, err := store.Open(ctx, tt.scheme+pathB)
			if err != nil {
				t.Fatalf("Open(%q): %v", pathB, err)
			}
			defer b.Close()
			if _, err := b.Key(ctx, k.ID); err == nil {
				t.Errorf("the store at %q sees a key created in the store at %q: both opened one file", pathB, pathA)
			}
			for _, p := range []string{pathA, pathB} {
				if _, err := os.Stat(p); err != nil {
					t.Errorf("the database file %q was not created under its own name: %v", p, err)
				}
			}
			again, err := store.Open(ctx, tt.scheme+pathA)
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			if _, err := again.Key(ctx, k.ID); err != nil {
				t.Errorf("reopening %q lost its key: %v", pathA, err)
			}
		})
	}
}

// TestNewIDLeadsWithTheTime: ids made later sort later, by their time part,
// and ids made in the same millisecond still differ.
func TestNewIDLeadsWithTheTime(t *testing.T) {
	const n = 20_000
	seen := make(map[string]bool, n)
	prev := ""
	for range n {
		id := store.NewID("aud")
		if len(id) != len("aud_")+20 || strings.Trim(id[4:], "234567abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("malformed id %q", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		if id[:14] < prev {
			t.Fatalf("time part went back: %q after %q", id[:14], prev)
		}
		prev = id[:14]
	}
	first, last := store.NewID("x"), ""
	time.Sleep(2 * time.Millisecond)
	last = store.NewID("x")
	if !(first < last) {
		t.Errorf("%q made 2 ms before %q sorts after it", first, last)
	}
}
