package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

func TestPrincipalAllows(t *testing.T) {
	p := &Principal{
		AllowedModels: []string{"gpt-4o", "claude"}, TeamAllowedModels: []string{"claude", "llama"},
		AllowedRegions: []string{"eu-*", "westeurope"}, TeamAllowedRegions: []string{"*"},
		TeamAllowedProviders: []string{"azure"},
	}
	cases := []struct {
		name string
		got  bool
		want bool
	}{
		{"model in both", p.AllowsModel("claude"), true},
		{"model only in key", p.AllowsModel("gpt-4o"), false},
		{"model only in team", p.AllowsModel("llama"), false},
		{"region glob", p.AllowsRegion("eu-west-1"), true},
		{"region exact", p.AllowsRegion("westeurope"), true},
		{"region outside", p.AllowsRegion("us-east-1"), false},
		{"provider: key open, team limits", p.AllowsProvider("azure"), true},
		{"provider outside team", p.AllowsProvider("bedrock"), false},
		{"empty lists allow all", (&Principal{}).AllowsModel("anything"), true},
		{"star allows all", (&Principal{AllowedModels: []string{"*"}}).AllowsModel("x"), true},
		{"nil principal allows nothing", (*Principal)(nil).AllowsModel("x"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Fatalf("got %v; want %v", c.got, c.want)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	seen := map[string]bool{}
	for range 500 {
		g := GenerateKey()
		switch {
		case len(g.Secret) != 46 || !strings.HasPrefix(g.Secret, "sk-sy-"):
			t.Fatalf("bad secret shape %q", g.Secret)
		case !plausible(g.Secret):
			t.Fatalf("generated secret fails plausible: %q", g.Secret)
		case g.Prefix != g.Secret[:12]:
			t.Fatalf("prefix %q is not the first 12 chars", g.Prefix)
		case g.Hash != HashSecret(g.Secret) || len(g.Hash) != 64:
			t.Fatalf("hash mismatch")
		case seen[g.Secret]:
			t.Fatalf("duplicate secret")
		}
		seen[g.Secret] = true
	}
	junk := []string{"", "sk-sy-", "sk-sy-" + strings.Repeat("a", 39), "sk-sy-" + strings.Repeat("a", 39) + "!", "Bearer x"}
	for _, j := range junk {
		if plausible(j) {
			t.Errorf("plausible(%q) = true", j)
		}
	}
}

func TestRotateKeyCarriesPolicy(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, storetest.SQLiteDSN(t))
	_, old, err := IssueKey(ctx, st, store.Key{Name: "svc", TeamID: "t1", AllowedModels: []string{"gpt-4o"}, TPM: 9})
	if err != nil {
		t.Fatal(err)
	}
	g, succ, err := RotateKey(ctx, st, old.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if succ.ID == old.ID || succ.Hash != g.Hash || succ.TPM != 9 || succ.TeamID != "t1" || succ.Name != "svc" {
		t.Fatalf("successor did not inherit policy: %+v", succ)
	}
	c := NewKeyCache(st, Options{Logger: quiet})
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, g.Secret); err != nil {
		t.Fatalf("successor: %v", err)
	}
}
