package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

// storeDecider decides straight in the store, as the real workflow's
// bookkeeping would.
type storeDecider struct{ st store.Store }

func (d storeDecider) Decide(ctx context.Context, id string, approve bool, by, comment string) (store.Approval, error) {
	status := store.ApprovalDenied
	if approve {
		status = store.ApprovalApproved
	}
	return d.st.DecideApproval(ctx, id, store.Decision{Status: status, By: by, Comment: comment, At: start})
}

func seedApprovals(t *testing.T, st store.Store) (a, b store.Approval) {
	t.Helper()
	var err error
	for i, dst := range []*store.Approval{&a, &b} {
		team := []string{"team_a", "team_b"}[i]
		*dst, err = st.CreateApproval(context.Background(), store.Approval{ID: "apr_" + team, TeamID: team, Tool: "send_email",
			ArgumentsRedacted: `{"to":"***"}`, Payload: []byte(`{"secret":"held answer"}`), ExpiresAt: start.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

func newApprovalsEnv(t *testing.T) *env {
	var e *env
	e = newEnv(t, func(o *admin.Options) { o.Approvals = storeDecider{st: o.Store} })
	return e
}

func TestApprovalsFlow(t *testing.T) {
	e := newApprovalsEnv(t)
	a, b := seedApprovals(t, e.st)
	var l adminv1.List[store.Approval]
	r := e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/approvals?status=pending", nil)
	r.decode(t, &l)
	if len(l.Data) != 2 {
		t.Fatalf("pending = %d; want 2", len(l.Data))
	}
	if strings.Contains(string(r.body), "held answer") {
		t.Errorf("list exposes the held payload: %s", r.body)
	}
	var got store.Approval
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/approvals/"+a.ID, nil).decode(t, &got)
	if got.Tool != "send_email" || got.Payload != nil {
		t.Errorf("approval = %+v; want tool and no payload", got)
	}

	e.must(http.StatusOK, bootstrap, "POST", "/admin/v1/approvals/"+a.ID+"/approve", adminv1.Decision{Comment: "looks fine"}).decode(t, &got)
	if got.Status != store.ApprovalApproved || got.DecidedBy != "bootstrap" || got.Comment != "looks fine" {
		t.Errorf("approved = %+v", got)
	}
	e.must(http.StatusOK, bootstrap, "POST", "/admin/v1/approvals/"+b.ID+"/deny", nil).decode(t, &got)
	if got.Status != store.ApprovalDenied {
		t.Errorf("denied = %+v", got)
	}
	er := e.must(http.StatusConflict, bootstrap, "POST", "/admin/v1/approvals/"+a.ID+"/deny", nil).apiErr(t)
	if !strings.Contains(er.Message, a.ID) {
		t.Errorf("conflict message %q should name the approval", er.Message)
	}
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/approvals?status=pending", nil).decode(t, &l)
	if len(l.Data) != 0 {
		t.Errorf("still pending: %+v", l.Data)
	}
	e.must(http.StatusNotFound, bootstrap, "POST", "/admin/v1/approvals/apr_nope/approve", nil)
	if er := e.must(http.StatusBadRequest, bootstrap, "GET", "/admin/v1/approvals?status=open", nil).apiErr(t); er.Param != "status" {
		t.Errorf("param = %q; want status", er.Param)
	}
}

func TestApprovalsWithoutDecider(t *testing.T) {
	e := newEnv(t, nil)
	a, _ := seedApprovals(t, e.st)
	e.must(http.StatusOK, bootstrap, "GET", "/admin/v1/approvals/"+a.ID, nil)
	er := e.must(http.StatusNotImplemented, bootstrap, "POST", "/admin/v1/approvals/"+a.ID+"/approve", nil).apiErr(t)
	if er.Type != "not_implemented" {
		t.Errorf("type = %q", er.Type)
	}
	got, _ := e.st.Approval(context.Background(), a.ID)
	if got.Status != store.ApprovalPending {
		t.Errorf("status = %s; want still pending", got.Status)
	}
}
