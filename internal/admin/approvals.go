package admin

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

var approvalStatuses = []string{store.ApprovalPending, store.ApprovalApproved, store.ApprovalDenied, store.ApprovalExpired}

// forDisplay drops the held answer: it may carry the very data the
// approval exists to guard, and deciding needs only the redacted view.
func forDisplay(a store.Approval) store.Approval {
	a.Payload = nil
	return a
}

func (h *handler) listApprovals(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	f := store.ApprovalFilter{Status: q.Get("status"), TeamID: q.Get("team"), KeyID: q.Get("key")}
	if f.Status != "" && !slices.Contains(approvalStatuses, f.Status) {
		return invalid("status", "status %q must be one of pending, approved, denied, expired", f.Status)
	}
	limit, err := queryLimit(q)
	if err != nil {
		return err
	}
	f.Limit = limit
	teams, err := c.listTeams(f.TeamID)
	if err != nil {
		return err
	}
	var out []store.Approval
	for _, team := range teams {
		f.TeamID = team
		page, err := h.opts.Store.ListApprovals(r.Context(), f)
		if err != nil {
			return err
		}
		for _, a := range page {
			out = append(out, forDisplay(a))
		}
	}
	writeJSON(w, http.StatusOK, list(out))
	return nil
}

func (h *handler) loadApproval(r *http.Request, c *call) (store.Approval, error) {
	id := r.PathValue("id")
	c.target("approval/"+id, "", "")
	a, err := h.opts.Store.Approval(r.Context(), id)
	if err != nil {
		return store.Approval{}, storeError(err, "approval "+id)
	}
	c.target("approval/"+id, a.TeamID, "")
	return a, c.inTeam(a.TeamID, "approval "+id)
}

func (h *handler) getApproval(w http.ResponseWriter, r *http.Request, c *call) error {
	a, err := h.loadApproval(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, forDisplay(a))
	return nil
}

func (h *handler) approve(w http.ResponseWriter, r *http.Request, c *call) error {
	return h.decide(w, r, c, store.ApprovalApproved)
}

func (h *handler) deny(w http.ResponseWriter, r *http.Request, c *call) error {
	return h.decide(w, r, c, store.ApprovalDenied)
}

// decide applies verdict (store.ApprovalApproved or store.ApprovalDenied).
func (h *handler) decide(w http.ResponseWriter, r *http.Request, c *call, verdict string) error {
	var in adminv1.Decision
	if err := decode(r, &in, true); err != nil {
		return err
	}
	if _, err := h.loadApproval(r, c); err != nil {
		return err
	}
	if h.opts.Approvals == nil {
		return notImplemented("approvals cannot be decided on this gateway: no approval workflow is configured")
	}
	id := r.PathValue("id")
	a, err := h.opts.Approvals.Decide(r.Context(), id, verdict == store.ApprovalApproved, c.who.subject, in.Comment)
	if err != nil {
		if se := storeError(err, "approval "+id); se != err {
			return se
		}
		return fmt.Errorf("admin: decide approval %s: %w", id, err)
	}
	writeJSON(w, http.StatusOK, forDisplay(a))
	return nil
}
