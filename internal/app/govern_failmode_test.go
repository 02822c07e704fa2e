package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

// TestStoreAndRedisOutage cuts PostgreSQL and Redis off behind TCP
// proxies. Fail-open keeps answering on cached keys, cached budgets and
// this node's counters while readiness reports the outage; fail-closed
// answers 503 with a message saying to retry. Once both return, the
// gateway answers normally again, with no 401 or unknown-model answer on
// the way.
func TestStoreAndRedisOutage(t *testing.T) {
	tests := []struct {
		name     string
		failOpen bool
	}{{"fail open", true}, {"fail closed", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := storetest.PostgresDSN(t)
			rURL, prefix := redisURL(t)
			seedStore(t, dsn, []seedKey{{secret: rlKey, rpm: 1000}})
			seedBudget(t, dsn, store.Budget{ID: "bud_big", Scope: store.ScopeTeam, ScopeID: "t1", Period: store.PeriodMonth, LimitMicroUSD: 1e9, Mode: store.ModeHard})
			pg, rd := newProxy(t, hostOf(dsn)), newProxy(t, hostOf(rURL))
			e := startGov(t, nil, govSetup{
				dsn: withHost(dsn, pg.Addr()), redisURL: withHost(rURL, rd.Addr()), prefix: prefix,
				storeFailOpen: tt.failOpen, redisFailOpen: tt.failOpen,
			})
			call := func() (int, string) {
				status, _, body := e.do(http.MethodPost, "/v1/chat/completions", rlKey, govChat)
				return status, body
			}
			if status, body := call(); status != 200 {
				t.Fatalf("before the outage: %d %s", status, body)
			}

			pg.Down()
			rd.Down()
			if tt.failOpen {
				for i := range 5 {
					if status, body := call(); status != 200 {
						t.Fatalf("fail-open call %d during the outage: %d %s", i, status, body)
					}
				}
				status, _, body := e.do(http.MethodGet, "/readyz", "", "")
				if status == 200 || !strings.Contains(body, "store") {
					t.Errorf("readiness during the outage: %d %s", status, body)
				}
			} else {
				// The replica serves what it leased before the outage (a
				// second of the key's 1000 rpm: 16 requests) and refuses
				// the first call that needs Redis.
				served := 0
				status, body := call()
				for ; status == 200 && served < 50; status, body = call() {
					served++
				}
				if status != http.StatusServiceUnavailable || !strings.Contains(body, "retry") || !strings.Contains(body, "right now") {
					t.Fatalf("fail-closed during the outage, after %d served: %d %s", served, status, body)
				}
				t.Logf("%d calls served from leases during the outage", served)
				if served > 16 {
					t.Fatalf("%d calls served during the outage; want at most the 16 leased before it", served)
				}
			}

			pg.Up()
			rd.Up()
			deadline := time.Now().Add(15 * time.Second)
			for {
				status, body := call()
				if status == 200 {
					break
				}
				if status != http.StatusServiceUnavailable {
					t.Fatalf("while recovering: %d %s", status, body)
				}
				if time.Now().After(deadline) {
					t.Fatalf("still %d 15s after the outage ended: %s", status, body)
				}
				time.Sleep(100 * time.Millisecond)
			}
			for i := range 3 {
				if status, body := call(); status != 200 {
					t.Fatalf("after recovery, call %d: %d %s", i, status, body)
				}
			}
		})
	}
}
