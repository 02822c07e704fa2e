package admin_test

import (
	"net/http"
	"testing"
)

// FuzzKeyCreateBody: whatever the body, creating a key answers 201 or a
// 400 with a well-formed error, never a 500.
func FuzzKeyCreateBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"ci","team_id":"team_a"}`, `{"name":"x","rpm":-1}`, `{"name":1}`, `{`, ``, `[]`, `null`,
		`{"name":"x","expires_at":"tomorrow"}`, `{"name":"x","metadata":{"a":1}}`, `{"name":"x"} trailing`,
		`{"name":"x","team_id":"team_zzz"}`, `{"name":"\u0000"}`,
	} {
		f.Add(seed)
	}
	shared := newEnv(f, nil)
	shared.seed()
	f.Fuzz(func(t *testing.T, body string) {
		e := *shared
		e.t = t
		r := e.do(bootstrap, "POST", "/admin/v1/keys", body)
		switch r.status {
		case http.StatusCreated:
		case http.StatusBadRequest:
			r.apiErr(t)
		default:
			t.Fatalf("body %q: status %d %s", body, r.status, r.body)
		}
	})
}
