package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/cli"
)

const adminToken = "admin-token-0123456789abcdefghij"

// TestAdminKeyLifecycle: a key created through the admin API works at once,
// and its revocation takes effect within a second.
func TestAdminKeyLifecycle(t *testing.T) {
	e := start(t, baseConfig+"admin:\n  bootstrap_token: "+adminToken+"\n")
	status, _, body := e.do(http.MethodPost, "/admin/v1/keys", adminToken, `{"name":"ci-bot","allowed_models":["gpt-4o"]}`)
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("create key: %d %s", status, body)
	}
	var created struct {
		Secret string `json:"secret"`
		Key    struct {
			ID string `json:"id"`
		} `json:"key"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.Secret == "" || created.Key.ID == "" {
		t.Fatalf("create key answer: %s", body)
	}
	chat := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	if status, _, body := e.do(http.MethodPost, "/v1/chat/completions", created.Secret, chat); status != 200 {
		t.Fatalf("new key: %d %s", status, body)
	}
	if status, _, _ := e.do(http.MethodPost, "/v1/embeddings", created.Secret, `{"model":"text-embedding-3-small","input":"x"}`); status != 403 {
		t.Errorf("key limited to gpt-4o used another model: %d", status)
	}
	if status, _, body := e.do(http.MethodPost, "/admin/v1/keys/"+created.Key.ID+"/revoke", adminToken, `{}`); status != 200 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	revokedAt := time.Now()
	for {
		status, _, body := e.do(http.MethodPost, "/v1/chat/completions", created.Secret, chat)
		if status == 401 {
			if !strings.Contains(body, "revoked") {
				t.Errorf("401 does not say the key was revoked: %s", body)
			}
			break
		}
		if time.Since(revokedAt) > time.Second {
			t.Fatalf("revoked key still answered %d after %s", status, time.Since(revokedAt))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Without the admin token, the admin API refuses.
	if status, _, _ := e.do(http.MethodGet, "/admin/v1/keys", testKey, ""); status != 401 {
		t.Errorf("admin API with a virtual key: %d", status)
	}
}

// TestStatusCommand: `switchyard status` shows every deployment's health
// from a running gateway's admin API.
func TestStatusCommand(t *testing.T) {
	e := start(t, baseConfig+"admin:\n  bootstrap_token: "+adminToken+"\n")
	e.do(http.MethodPost, "/v1/chat/completions", testKey, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), []string{"status", "--url", e.srv.URL, "--token", adminToken}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"openai-us", "openai-embed", "us-east-1", "closed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, out.String())
		}
	}
}
