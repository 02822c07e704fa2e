package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

var groupings = []string{store.GroupByOrg, store.GroupByTeam, store.GroupByKey, store.GroupByModel,
	store.GroupByProvider, store.GroupByRegion}

func (h *handler) usage(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	from, to, err := h.timeRange(r)
	if err != nil {
		return err
	}
	groupBy := q.Get("group_by")
	if groupBy == "" {
		groupBy = store.GroupByTeam
	}
	if !slices.Contains(groupings, groupBy) {
		return invalid("group_by", "group_by %q must be one of %s", groupBy, strings.Join(groupings, ", "))
	}
	uq := store.UsageQuery{GroupBy: groupBy, From: from, To: to, OrgID: q.Get("org"), TeamID: q.Get("team"), KeyID: q.Get("key")}
	teams := []string{uq.TeamID}
	if !c.scope.all {
		if uq.TeamID != "" {
			if err := c.inTeam(uq.TeamID, "usage of team "+uq.TeamID); err != nil {
				return err
			}
		} else {
			teams = c.scope.teams
		}
	}
	var groups []store.UsageGroup
	for _, team := range teams {
		uq.TeamID = team
		part, err := h.opts.Store.SumUsage(r.Context(), uq)
		if err != nil {
			return err
		}
		groups = mergeUsage(groups, part)
	}
	if groups == nil {
		groups = []store.UsageGroup{}
	}
	writeJSON(w, http.StatusOK, adminv1.UsageReport{From: from, To: to, GroupBy: groupBy, Data: groups})
	return nil
}

// mergeUsage adds b's groups into a (a team admin's teams are queried
// one by one) and keeps the largest cost first.
func mergeUsage(a, b []store.UsageGroup) []store.UsageGroup {
	if a == nil {
		return b
	}
	for _, g := range b {
		i := slices.IndexFunc(a, func(x store.UsageGroup) bool { return x.Group == g.Group })
		if i < 0 {
			a = append(a, g)
			continue
		}
		a[i].Requests += g.Requests
		a[i].PromptTokens += g.PromptTokens
		a[i].CompletionTokens += g.CompletionTokens
		a[i].CachedTokens += g.CachedTokens
		a[i].CostMicroUSD += g.CostMicroUSD
	}
	slices.SortStableFunc(a, func(x, y store.UsageGroup) int {
		switch {
		case x.CostMicroUSD > y.CostMicroUSD:
			return -1
		case x.CostMicroUSD < y.CostMicroUSD:
			return 1
		}
		return strings.Compare(x.Group, y.Group)
	})
	return a
}

// exportPage is how many audit records are read per query while exporting.
const exportPage = 1000

func (h *handler) auditExport(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	var f store.AuditFilter
	var err error
	if v := q.Get("from"); v != "" {
		if f.From, err = parseTime("from", v); err != nil {
			return err
		}
	}
	if v := q.Get("to"); v != "" {
		if f.To, err = parseTime("to", v); err != nil {
			return err
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return invalid("from", "from must be before to")
	}
	f.TeamID = q.Get("team")
	f.Limit = exportPage
	c.target("audit", f.TeamID, "")
	// The first page is read before any byte is sent, so a failing store
	// still gets a proper error response.
	page, err := h.opts.Store.AuditRecords(r.Context(), f)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for {
		for _, rec := range page {
			if err := enc.Encode(rec); err != nil {
				return nil // the client went away; nothing more to say
			}
		}
		if len(page) < exportPage {
			return nil
		}
		f.FromSeq = page[len(page)-1].Seq + 1
		if page, err = h.opts.Store.AuditRecords(r.Context(), f); err != nil {
			// Headers are gone; a truncated export is all that can be
			// signalled, and the log says why.
			h.opts.Logger.Error("admin: audit export cut short", "after_seq", f.FromSeq-1, "err", err)
			return nil
		}
	}
}

func (h *handler) auditVerify(w http.ResponseWriter, r *http.Request, c *call) error {
	c.target("audit", "", "")
	if h.opts.AuditVerify == nil {
		return notImplemented("audit verification is not configured on this gateway (no audit signing key)")
	}
	res, err := h.opts.AuditVerify(r.Context())
	if err != nil {
		return fmt.Errorf("admin: verify audit chain: %w", err)
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("admin: encode audit report: %w", err)
	}
	ok := true
	if o, has := res.(interface{ OK() bool }); has {
		ok = o.OK()
	}
	writeJSON(w, http.StatusOK, adminv1.AuditVerify{OK: ok, Report: raw})
	return nil
}

func (h *handler) status(w http.ResponseWriter, _ *http.Request, _ *call) error {
	if h.opts.Status == nil {
		return notImplemented("deployment status is not available on this gateway")
	}
	writeJSON(w, http.StatusOK, h.opts.Status())
	return nil
}
