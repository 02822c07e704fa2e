package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/admin/client"
	"github.com/switchyard/switchyard/internal/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newClient(t *testing.T, h http.Handler) *client.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	return client.New(srv.URL+"/", "tok", client.WithHTTPClient(hc))
}

func TestRoundTrip(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := newClient(t, admin.New(admin.Options{Store: st, BootstrapToken: "tok"}))
	ctx := context.Background()
	org, err := c.CreateOrg(ctx, adminv1.OrgCreate{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if orgs, err := c.ListOrgs(ctx); err != nil || len(orgs) != 1 || orgs[0].ID != org.ID {
		t.Fatalf("ListOrgs = %+v, %v", orgs, err)
	}
	team, err := c.CreateTeam(ctx, adminv1.TeamCreate{OrgID: org.ID, Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := c.CreateKey(ctx, adminv1.KeyCreate{Name: "k", TeamID: team.ID})
	if err != nil || ks.Secret == "" {
		t.Fatalf("CreateKey = %+v, %v", ks, err)
	}
	name := "renamed"
	if k, err := c.UpdateKey(ctx, ks.Key.ID, adminv1.KeyUpdate{Name: &name}); err != nil || k.Name != name {
		t.Fatalf("UpdateKey = %+v, %v", k, err)
	}
	if k, err := c.Key(ctx, ks.Key.ID); err != nil || k.Name != name {
		t.Fatalf("Key = %+v, %v", k, err)
	}
	rot, err := c.RotateKey(ctx, ks.Key.ID, adminv1.KeyRotate{Grace: "0s"})
	if err != nil || rot.Previous == nil || rot.Previous.GraceUntil == nil {
		t.Fatalf("RotateKey = %+v, %v", rot, err)
	}

	_, err = c.Key(ctx, "key_nope")
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Type != "not_found_error" || apiErr.Message == "" {
		t.Fatalf("missing key error = %#v", err)
	}
}

func TestErrorBodies(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		wantMsg string
	}{
		{"API error", 403, `{"error":{"message":"no","type":"permission_error","code":"forbidden"}}`, "no"},
		{"proxy page", 502, `<html>Bad Gateway</html>`, "admin API answered 502 Bad Gateway: <html>Bad Gateway</html>"},
		{"empty", 500, ``, "admin API answered 500 Internal Server Error: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok" || r.URL.Path != "/admin/v1/status" {
					t.Errorf("request %s %q auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
				}
				w.WriteHeader(c.status)
				_, _ = w.Write([]byte(c.body))
			}))
			_, err := cl.Status(context.Background())
			var apiErr *client.Error
			if !errors.As(err, &apiErr) || apiErr.Status != c.status || err.Error() != c.wantMsg {
				t.Errorf("err = %v (%#v); want status %d message %q", err, err, c.status, c.wantMsg)
			}
		})
	}
}
