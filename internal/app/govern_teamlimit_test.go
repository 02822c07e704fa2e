package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

// TestTeamRateLimitFromTheStore: a team's limit, set on its record (as the
// admin API does), is shared by all its keys, none of which has a limit of
// its own.
func TestTeamRateLimitFromTheStore(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	seedStore(t, dsn, []seedKey{{secret: plainKey}, {secret: budgetKey}})
	st := openStore(t, dsn)
	if _, err := st.UpdateTeam(context.Background(), store.Team{ID: "t1", Name: "Team", RPM: 2}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	e := startGov(t, nil, govSetup{dsn: dsn})

	for i, key := range []string{plainKey, budgetKey} {
		status, hdr, body := e.do(http.MethodPost, "/v1/chat/completions", key, govChat)
		if status != http.StatusOK {
			t.Fatalf("call %d: status %d: %s", i, status, body)
		}
		if got := hdr.Get("X-Ratelimit-Limit-Requests"); got != "2" {
			t.Errorf("call %d: x-ratelimit-limit-requests = %q; want the team's 2", i, got)
		}
	}
	status, hdr, body := e.do(http.MethodPost, "/v1/chat/completions", plainKey, govChat)
	if status != http.StatusTooManyRequests || !strings.Contains(body, `"rate_limit_exceeded"`) || hdr.Get("Retry-After") == "" {
		t.Fatalf("third call across the team's keys: status %d, retry-after %q: %s", status, hdr.Get("Retry-After"), body)
	}
}
