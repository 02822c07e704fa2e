package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return storetest.Open(t, e.NewDSN(t)) })
		})
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	for _, e := range storetest.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			dsn := e.NewDSN(t)
			first := storetest.Open(t, dsn)
			k, err := first.CreateKey(context.Background(), store.Key{Prefix: "p", Hash: "h"})
			if err != nil {
				t.Fatal(err)
			}
			first.Close()
			again := storetest.Open(t, dsn)
			if _, err := again.Key(context.Background(), k.ID); err != nil {
				t.Fatalf("reopening lost data or re-ran migrations: %v", err)
			}
		})
	}
}

func TestOpenDSNForms(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		dsn  string
		ok   bool
	}{
		{"sqlite URL", "sqlite://" + filepath.Join(dir, "a.db"), true},
		{"sqlite scheme relative to cwd-free abs path", "sqlite:" + filepath.Join(dir, "b.db"), true},
		{"plain path creates folder", filepath.Join(dir, "nested", "data", "c.db"), true},
		{"empty", "", false},
		{"sqlite without file", "sqlite://", false},
		{"postgres unreachable", "postgres://nobody@127.0.0.1:1/x?sslmode=disable&connect_timeout=1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := store.Open(context.Background(), c.dsn)
			if c.ok != (err == nil) {
				t.Fatalf("Open(%q) error = %v; want ok=%v", c.dsn, err, c.ok)
			}
			if s != nil {
				if err := s.Ping(context.Background()); err != nil {
					t.Fatalf("Ping: %v", err)
				}
				s.Close()
			}
		})
	}
}
