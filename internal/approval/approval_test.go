package approval_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/approval"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newService(t *testing.T, st store.Store, version *string, n approval.Notifier) *approval.Service {
	t.Helper()
	s := approval.New(approval.Options{Store: st, Notifier: n, Timeout: time.Minute, PollInterval: 10 * time.Millisecond,
		PolicyVersion: func() string { return *version }})
	t.Cleanup(func() { s.Close() })
	return s
}

func raise(t *testing.T, s *approval.Service, args string, version string) store.Approval {
	t.Helper()
	a, err := s.Create(context.Background(), approval.Request{KeyID: "key_1", TeamID: "team_1", Tool: "delete_records",
		Arguments: args, Digest: approval.Digest(approval.Call{Name: "delete_records", Arguments: args}), PolicyVersion: version, Reason: "needs a human"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDigestIsCanonical(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"key order and spaces", `{"a":1,"b":"x"}`, `{ "b": "x", "a": 1 }`, true},
		{"empty is {}", ``, `{}`, true},
		{"other value", `{"a":1}`, `{"a":2}`, false},
		{"big numbers kept", `{"id":12345678901234567890}`, `{"id":12345678901234567891}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			da := approval.Digest(approval.Call{Name: "t", Arguments: tt.a})
			db := approval.Digest(approval.Call{Name: "t", Arguments: tt.b})
			if (da == db) != tt.same {
				t.Errorf("digests equal = %v, want %v", da == db, tt.same)
			}
		})
	}
	if approval.Digest(approval.Call{Name: "a", Arguments: "{}"}) == approval.Digest(approval.Call{Name: "b", Arguments: "{}"}) {
		t.Error("the tool name is not part of the digest")
	}
}

// TestBinding: a decision releases only the call it was given for, under
// the policy version it was raised under, before it expires.
func TestBinding(t *testing.T) {
	st := storetest.Open(t, storetest.SQLiteDSN(t))
	version := "v1"
	s := newService(t, st, &version, nil)
	ctx := context.Background()
	a := raise(t, s, `{"table":"users"}`, version)
	d, err := s.Decide(ctx, a.ID, true, "alice", "ok")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tests := []struct {
		name    string
		args    string
		version string
		at      time.Time
		want    error
	}{
		{"same call", `{ "table": "users" }`, "v1", now, nil},
		{"other arguments", `{"table":"orders"}`, "v1", now, approval.ErrOtherCall},
		{"policy changed", `{"table":"users"}`, "v2", now, approval.ErrStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := approval.Check(d, approval.Digest(approval.Call{Name: "delete_records", Arguments: tt.args}), tt.version, tt.at)
			if !errors.Is(err, tt.want) {
				t.Errorf("Check = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		p := raise(t, s, `{}`, version)
		err := approval.Check(p, p.Digest, version, p.ExpiresAt.Add(time.Second))
		if !errors.Is(err, approval.ErrExpired) {
			t.Errorf("Check = %v, want ErrExpired", err)
		}
	})
}

func TestDecide(t *testing.T) {
	st := storetest.Open(t, storetest.SQLiteDSN(t))
	version := "v1"
	s := newService(t, st, &version, nil)
	ctx := context.Background()
	t.Run("idempotent", func(t *testing.T) {
		a := raise(t, s, `{}`, version)
		first, err := s.Decide(ctx, a.ID, true, "alice", "ok")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Decide(ctx, a.ID, true, "alice", "ok")
		if err != nil || again.Status != store.ApprovalApproved || !again.DecidedAt.Equal(*first.DecidedAt) {
			t.Errorf("repeat = %+v, %v", again, err)
		}
		if _, err := s.Decide(ctx, a.ID, false, "bob", "no"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("contrary decision: err = %v, want ErrConflict", err)
		}
	})
	t.Run("policy changed", func(t *testing.T) {
		a := raise(t, s, `{}`, version)
		version = "v2"
		defer func() { version = "v1" }()
		_, err := s.Decide(ctx, a.ID, true, "alice", "")
		if !errors.Is(err, store.ErrConflict) || !errors.Is(err, approval.ErrStale) || !strings.Contains(err.Error(), "send the call again") {
			t.Errorf("err = %v, want a stale conflict", err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, err := s.Decide(ctx, "apr_missing", true, "alice", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

// TestWaitAcrossReplicas: a decision taken through another service on
// the same store releases the waiter (by polling).
func TestWaitAcrossReplicas(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	version := "v1"
	one := newService(t, storetest.Open(t, dsn), &version, nil)
	two := newService(t, storetest.Open(t, dsn), &version, nil)
	a := raise(t, one, `{}`, version)
	done := make(chan store.Approval, 1)
	go func() {
		got, err := one.Wait(context.Background(), a.ID)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	if _, err := two.Decide(context.Background(), a.ID, false, "bob", "no"); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got.Status != store.ApprovalDenied || got.DecidedBy != "bob" {
		t.Errorf("waiter saw %+v", got)
	}
}

func TestWaitTimesOut(t *testing.T) {
	st := storetest.Open(t, storetest.SQLiteDSN(t))
	s := approval.New(approval.Options{Store: st, Timeout: 50 * time.Millisecond, PollInterval: time.Hour})
	a, err := s.Create(context.Background(), approval.Request{Tool: "x", Digest: "d"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Wait(context.Background(), a.ID)
	if err != nil || got.Status != store.ApprovalExpired {
		t.Errorf("Wait = %+v, %v; want expired", got, err)
	}
	if _, err := s.Decide(context.Background(), a.ID, true, "late", ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("deciding an expired approval: err = %v, want ErrConflict", err)
	}
}

func TestWebhooks(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path] = string(b)
		mu.Unlock()
	}))
	defer srv.Close()
	st := storetest.Open(t, storetest.SQLiteDSN(t))
	version := "v1"
	s := approval.New(approval.Options{Store: st, Timeout: time.Minute, PolicyVersion: func() string { return version },
		Notifier: &approval.Webhooks{URL: srv.URL + "/generic", SlackURL: srv.URL + "/slack", Client: srv.Client()}})
	a, err := s.Create(context.Background(), approval.Request{KeyID: "key_1", Tool: "delete_records", Arguments: `{"table":"users"}`,
		Reason: "needs a human", Payload: json.RawMessage(`{"secret":"held"}`)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	mu.Lock()
	defer mu.Unlock()
	var generic struct {
		Event    string         `json:"event"`
		Approval store.Approval `json:"approval"`
	}
	if err := json.Unmarshal([]byte(got["/generic"]), &generic); err != nil || generic.Event != "approval.pending" || generic.Approval.ID != a.ID {
		t.Errorf("generic webhook got %s (%v)", got["/generic"], err)
	}
	if strings.Contains(got["/generic"], "held") {
		t.Errorf("the webhook carries the held answer: %s", got["/generic"])
	}
	var slack map[string]string
	if err := json.Unmarshal([]byte(got["/slack"]), &slack); err != nil || !strings.Contains(slack["text"], a.ID) || !strings.Contains(slack["text"], "delete_records") {
		t.Errorf("slack webhook got %s (%v)", got["/slack"], err)
	}
}
