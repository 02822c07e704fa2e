package govern

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/budget"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/pricing"
	"github.com/switchyard/switchyard/internal/ratelimit"
)

func TestRateLimitStage(t *testing.T) {
	tests := []struct {
		name   string
		caller *gateway.Caller
		teams  map[string]ratelimit.Limits
		limit  string // x-ratelimit-limit-requests on the first answer
	}{
		{"key", &gateway.Caller{KeyID: "k1", RPM: 2}, nil, "2"},
		{"team tighter than key", &gateway.Caller{KeyID: "k1", TeamID: "t1", RPM: 5}, map[string]ratelimit.Limits{"t1": {RPM: 2}}, "2"},
		{"team limit from the store", &gateway.Caller{KeyID: "k1", TeamID: "t1", TeamRPM: 2}, nil, "2"},
		{"store tighter than config", &gateway.Caller{KeyID: "k1", TeamID: "t1", TeamRPM: 2}, map[string]ratelimit.Limits{"t1": {RPM: 9}}, "2"},
		{"config tighter than store", &gateway.Caller{KeyID: "k1", TeamID: "t1", TeamRPM: 9}, map[string]ratelimit.Limits{"t1": {RPM: 2}}, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := newGateway(t, &backend{text: "hi", usage: llm.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4}},
				NewRateLimit(ratelimit.NewMemory(ratelimit.MemoryOptions{}), tt.teams, NewTokenizer(nil), nil))
			for i := range 2 {
				_, prov, err := gw.Chat(as(tt.caller, "r"), chatReq("hello", 0))
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				if i == 0 && prov.Headers.Get("x-ratelimit-limit-requests") != tt.limit {
					t.Errorf("headers %v", prov.Headers)
				}
			}
			_, prov, err := gw.Chat(as(tt.caller, "r"), chatReq("hello", 0))
			le := llm.AsError(err)
			if le.Status != http.StatusTooManyRequests || le.Code != "rate_limit_exceeded" || le.RetryAfter < time.Second {
				t.Fatalf("third call: %+v", le)
			}
			if !strings.Contains(le.Message, "requests per minute") || !strings.Contains(le.Message, "try again") {
				t.Errorf("message %q does not tell the client what to do", le.Message)
			}
			if prov.Headers.Get("x-ratelimit-remaining-requests") != "0" {
				t.Errorf("refusal headers %v", prov.Headers)
			}
		})
	}
}

func TestRateLimitChargesActualTokens(t *testing.T) {
	lim := ratelimit.NewMemory(ratelimit.MemoryOptions{})
	caller := &gateway.Caller{KeyID: "k1", TPM: 10_000}
	gw := newGateway(t, &backend{text: "hi", usage: llm.Usage{PromptTokens: 900, CompletionTokens: 100, TotalTokens: 1000}},
		NewRateLimit(lim, nil, NewTokenizer(nil), nil))
	if _, _, err := gw.Chat(as(caller, "r1"), chatReq("hello", 50)); err != nil {
		t.Fatal(err)
	}
	// A zero-token probe shows what is left: 10000 - 1000 actual (not the
	// small estimate the call was admitted with).
	res, err := lim.Allow(context.Background(), "key:k1", ratelimit.Limits{TPM: 10_000}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.RemainingTokens < 8990 || res.RemainingTokens > 9005 {
		t.Errorf("remaining tokens %d, want about 9000", res.RemainingTokens)
	}
}

func TestBudgetStage(t *testing.T) {
	caller := &gateway.Caller{KeyID: "k1", TeamID: "t1", OrgID: "o1"}
	usage := llm.Usage{PromptTokens: 1000, CompletionTokens: 100, TotalTokens: 1100}
	cost := pricing.Cost(&usage, testPrice) // 2500 + 1000 micro-USD
	src := budget.StaticSource{{ID: "team-cap", Scope: budget.Scope{Kind: budget.ScopeTeam, ID: "t1"}, Period: budget.PeriodDay, Limit: 2*cost + cost/2, Mode: budget.ModeHard}}
	mgr, err := budget.NewManager(budget.Options{Source: src, Store: budget.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	b := &backend{text: "hi", usage: usage}
	q := &queue{}
	prices, tok := testPrices(t), NewTokenizer(nil)
	gw := newGateway(t, b, NewMeter(tok), NewBudget(mgr, prices, tok, nil), NewUsageRecorder(q, prices, tok, nil))
	// max_tokens 100 and a short prompt reserve well under one call's
	// room, so two calls fit and settle at their true cost.
	for i := range 2 {
		if _, _, err := gw.Chat(as(caller, "ok"), chatReq("hello", 100)); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	st, _ := mgr.Status(context.Background(), Scopes(caller))
	if len(st) != 1 || st[0].Spent != 2*cost || st[0].Reserved != 0 {
		t.Fatalf("status %+v; want spent %d, nothing reserved", st, 2*cost)
	}
	// A failed call releases its reservation and spends nothing.
	b.failing = true
	if _, _, err := gw.Chat(as(caller, "fail"), chatReq("hello", 100)); err == nil {
		t.Fatal("failing backend answered")
	}
	b.failing = false
	st, _ = mgr.Status(context.Background(), Scopes(caller))
	if st[0].Spent != 2*cost || st[0].Reserved != 0 {
		t.Fatalf("after a failure: %+v", st[0])
	}
	// Room is now half a call; a call that could cost more is refused.
	_, _, err = gw.Chat(as(caller, "over"), chatReq("hello", 1000))
	le := llm.AsError(err)
	if le.Status != http.StatusTooManyRequests || le.Code != budget.CodeBudgetExceeded || !strings.Contains(le.Message, "team-cap") {
		t.Fatalf("over budget: %+v", le)
	}
	if len(q.usage) != 4 || q.usage[0].CostMicroUSD != cost || q.usage[3].Status != 429 {
		t.Errorf("usage records %+v", q.usage)
	}
}

func TestBudgetFailureModes(t *testing.T) {
	tests := []struct {
		name     string
		failOpen bool
		status   int
	}{{"fail open serves", true, 200}, {"fail closed refuses", false, 503}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := sourceFunc(func(context.Context, []budget.Scope) ([]budget.Budget, error) {
				return nil, &UnavailableError{What: "budget store", FailOpen: tt.failOpen, Err: errors.New("connection refused")}
			})
			mgr, _ := budget.NewManager(budget.Options{Source: src, Store: budget.NewMemoryStore()})
			defer mgr.Close()
			tok := NewTokenizer(nil)
			gw := newGateway(t, &backend{text: "hi"}, NewBudget(mgr, testPrices(t), tok, nil))
			_, _, err := gw.Chat(as(&gateway.Caller{KeyID: "k"}, "r"), chatReq("hi", 10))
			if got := statusOf(err); got != tt.status {
				t.Fatalf("status %d, want %d (%v)", got, tt.status, err)
			}
			if err != nil && !strings.Contains(err.Error(), "retry shortly") {
				t.Errorf("message %q", err)
			}
		})
	}
}

type sourceFunc func(context.Context, []budget.Scope) ([]budget.Budget, error)

func (f sourceFunc) BudgetsFor(ctx context.Context, s []budget.Scope) ([]budget.Budget, error) {
	return f(ctx, s)
}

func statusOf(err error) int {
	if err == nil {
		return 200
	}
	return llm.AsError(err).Status
}

func TestStreamWithoutUsageIsEstimated(t *testing.T) {
	tests := []struct {
		name      string
		noUsage   bool
		estimated bool
		completed int
	}{
		{"usage reported", false, false, 7},
		{"no usage", true, true, 4}, // "one two three four" is 4 tokens in o200k_base
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &queue{}
			tok := NewTokenizer(nil)
			prices := testPrices(t)
			b := &backend{text: "one two three four", noUsage: tt.noUsage, usage: llm.Usage{PromptTokens: 9, CompletionTokens: 7, TotalTokens: 16}}
			gw := newGateway(t, b, NewMeter(tok), NewUsageRecorder(q, prices, tok, nil), NewAuditRecorder(q, prices, tok, AuditRecorderOptions{}))
			req := chatReq("count to four", 0)
			req.Stream = true
			s, _, err := gw.ChatStream(as(&gateway.Caller{KeyID: "k"}, "s1"), req)
			if err != nil {
				t.Fatal(err)
			}
			drain(t, s)
			if len(q.usage) != 1 || len(q.audit) != 1 {
				t.Fatalf("%d usage and %d audit records", len(q.usage), len(q.audit))
			}
			u := q.usage[0]
			if u.Estimated != tt.estimated || u.CompletionTokens != tt.completed || u.PromptTokens == 0 || u.CostMicroUSD == 0 {
				t.Errorf("usage %+v", u)
			}
			var d map[string]any
			if err := json.Unmarshal(q.audit[0].Details, &d); err != nil {
				t.Fatal(err)
			}
			if got := d["estimated"] == true; got != tt.estimated {
				t.Errorf("audit details %s", q.audit[0].Details)
			}
		})
	}
}

func TestAuditRecord(t *testing.T) {
	tests := []struct {
		name    string
		opts    AuditRecorderOptions
		content bool
	}{
		{"digest only", AuditRecorderOptions{}, false},
		{"with content", AuditRecorderOptions{IncludeContent: true}, true},
		{"the caller's org opted in", AuditRecorderOptions{ContentOrgs: []string{"o2", "o1"}}, true},
		{"another org opted in", AuditRecorderOptions{ContentOrgs: []string{"o2"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &queue{}
			tok := NewTokenizer(nil)
			policy := stageFunc(func(_ context.Context, c *gateway.Call) error {
				c.Set(KeyPolicyDecisions, []string{"allow: rule-1"})
				return nil
			})
			gw := newGateway(t, &backend{text: "the answer", usage: llm.Usage{PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7}},
				policy, NewAuditRecorder(q, testPrices(t), tok, tt.opts))
			caller := &gateway.Caller{KeyID: "k1", TeamID: "t1", OrgID: "o1"}
			req := chatReq("secret question", 0)
			if _, _, err := gw.Chat(as(caller, "req_1"), req); err != nil {
				t.Fatal(err)
			}
			r := q.audit[0]
			body, _ := json.Marshal(req)
			if r.ID != "call_req_1" || r.ActorID != "k1" || r.TeamID != "t1" || r.OrgID != "o1" || r.Action != ActionChat ||
				r.Resource != "m" || r.Outcome != "200 stop" || len(r.RequestDigest) != 64 || r.RequestDigest != sha(body) {
				t.Errorf("record %+v", r)
			}
			ds := string(r.Details)
			for _, want := range []string{`"deployment":"d1"`, `"provider":"openai"`, `"region":"us-east-1"`, `"model_version":"v1"`,
				`"status":200`, `"prompt_tokens":5`, `"cost_micro_usd":33`, `"attempts":1`, `"policy_decisions":["allow: rule-1"]`} {
				if !strings.Contains(ds, want) {
					t.Errorf("details lack %s: %s", want, ds)
				}
			}
			if got := strings.Contains(ds, "secret question") && strings.Contains(ds, "the answer"); got != tt.content {
				t.Errorf("content present %v, want %v: %s", got, tt.content, ds)
			}
		})
	}
}

type stageFunc func(context.Context, *gateway.Call) error

func (stageFunc) Name() string                                        { return "func" }
func (f stageFunc) Before(ctx context.Context, c *gateway.Call) error { return f(ctx, c) }

func TestSigningKeyFormats(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	want := ed25519.NewKeyFromSeed(seed)
	der, _ := x509.MarshalPKCS8PrivateKey(want)
	dir := t.TempDir()
	tests := []struct {
		name, content string
		ok            bool
	}{
		{"pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), true},
		{"hex", hex.EncodeToString(seed) + "\n", true},
		{"base64", base64.StdEncoding.EncodeToString(seed), true},
		{"raw", string(seed), true},
		{"wrong pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})), false},
		{"garbage", "not a key", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			os.WriteFile(p, []byte(tt.content), 0o600)
			k, err := LoadSigningKey(p, KeyFromFile)
			if tt.ok != (err == nil) || (tt.ok && !k.Equal(want)) {
				t.Fatalf("key %v err %v", k != nil, err)
			}
			if err != nil && !strings.Contains(err.Error(), "Ed25519") && !strings.Contains(err.Error(), "PKCS#8") {
				t.Errorf("error %q does not say what format is expected", err)
			}
		})
	}
	t.Run("generated once", func(t *testing.T) {
		p := filepath.Join(dir, "data", "audit.key")
		if _, err := LoadSigningKey(p, KeyFromFile); err == nil {
			t.Fatal("a missing operator key file was accepted")
		}
		k1, err := LoadSigningKey(p, KeyGenerated)
		if err != nil {
			t.Fatal(err)
		}
		k2, _ := LoadSigningKey(p, KeyGenerated)
		fi, _ := os.Stat(p)
		if !k1.Equal(k2) || fi.Mode().Perm() != 0o600 {
			t.Errorf("regenerated or mode %v", fi.Mode())
		}
	})
}

// readyStream is a stream that says its next chunk has arrived.
type readyStream struct{ llm.ChatStream }

func (readyStream) Ready() bool { return true }

// TestAuditContentStreamPassesReady: keeping content must not hide from
// the front door that the next chunk is already there.
func TestAuditContentStreamPassesReady(t *testing.T) {
	rec := NewAuditRecorder(&queue{}, testPrices(t), NewTokenizer(nil), AuditRecorderOptions{IncludeContent: true})
	c := &gateway.Call{}
	wrapped := rec.Stream(context.Background(), c, readyStream{})
	if _, ok := wrapped.(*contentStream); !ok {
		t.Fatalf("Stream returned %T; want the content-keeping wrapper", wrapped)
	}
	if !llm.Ready(wrapped) {
		t.Error("the wrapper hides Ready")
	}
}

// TestRequestDigest: the digest is of the body as the client sent it, so
// that whoever holds the body can check it; a request built in process
// is digested in its JSON encoding.
func TestRequestDigest(t *testing.T) {
	built := chatReq("hello", 0)
	encoded, err := json.Marshal(built)
	if err != nil {
		t.Fatal(err)
	}
	sent := []byte(`{"messages": [{"role":"user","content":"hello"}], "model":"m"}`)
	received := chatReq("hello", 0)
	received.SetBody(sent)
	for _, tt := range []struct {
		name string
		call *gateway.Call
		want string
	}{
		{"as sent", &gateway.Call{Chat: received}, sha(sent)},
		{"built in process", &gateway.Call{Chat: built}, sha(encoded)},
		{"no chat", &gateway.Call{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := RequestDigest(tt.call); got != tt.want {
				t.Fatalf("RequestDigest = %q; want %q", got, tt.want)
			}
		})
	}
}
