package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/auth"
	"github.com/switchyard/switchyard/internal/store"
)

const (
	// defaultGrace is how long a rotated secret keeps working when the
	// request names no grace period.
	defaultGrace = 24 * time.Hour
	// maxGrace bounds a rotation's grace period: a leaked secret must not
	// outlive its rotation by more than a month.
	maxGrace = 30 * 24 * time.Hour
)

// writeSecret answers with a one-time secret; no cache may keep it.
func writeSecret(w http.ResponseWriter, status int, v adminv1.KeySecret) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, v)
}

func validateLimits(rpm, tpm int) error {
	if rpm < 0 {
		return invalid("rpm", "rpm must be 0 (unlimited) or more, not %d", rpm)
	}
	if tpm < 0 {
		return invalid("tpm", "tpm must be 0 (unlimited) or more, not %d", tpm)
	}
	return nil
}

func (h *handler) validateExpiry(at *time.Time) error {
	if at != nil && !at.After(h.opts.Now()) {
		return invalid("expires_at", "expires_at (%s) is in the past; give a future time", at.Format(time.RFC3339))
	}
	return nil
}

func (h *handler) createKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var in adminv1.KeyCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	c.target("key", in.TeamID, in.OrgID)
	if err := c.inTeam(in.TeamID, "the new key"); err != nil {
		return err
	}
	if in.Name = strings.TrimSpace(in.Name); in.Name == "" {
		return invalid("name", "name is required so people can tell keys apart")
	}
	if err := validateLimits(in.RPM, in.TPM); err != nil {
		return err
	}
	if err := h.validateExpiry(in.ExpiresAt); err != nil {
		return err
	}
	if err := h.resolveOwners(r.Context(), &in); err != nil {
		return err
	}
	c.orgID = in.OrgID
	g := auth.GenerateKey()
	k, err := h.opts.Store.CreateKey(r.Context(), store.Key{
		Name: in.Name, Prefix: g.Prefix, Hash: g.Hash, OrgID: in.OrgID, TeamID: in.TeamID, UserID: in.UserID,
		AllowedModels: in.AllowedModels, AllowedRegions: in.AllowedRegions, AllowedProviders: in.AllowedProviders,
		RequireZDR: in.RequireZDR, AllowRouteOverride: in.AllowRouteOverride, Metadata: in.Metadata,
		RPM: in.RPM, TPM: in.TPM, ExpiresAt: in.ExpiresAt,
	})
	if err != nil {
		return storeError(err, "the new key")
	}
	c.target("key/"+k.ID, k.TeamID, k.OrgID)
	writeSecret(w, http.StatusCreated, adminv1.KeySecret{Secret: g.Secret, Key: k})
	return nil
}

// resolveOwners checks that the named team, org and user exist and agree,
// and fills the org from the team.
func (h *handler) resolveOwners(ctx context.Context, in *adminv1.KeyCreate) error {
	if in.TeamID != "" {
		t, err := h.teamOrg(ctx, in.TeamID)
		if err != nil {
			return err
		}
		if in.OrgID == "" {
			in.OrgID = t.OrgID
		} else if in.OrgID != t.OrgID {
			return invalid("org_id", "team %s belongs to org %s, not %s; leave org_id out to use the team's", t.ID, t.OrgID, in.OrgID)
		}
	} else if in.OrgID != "" {
		_, err := h.opts.Store.Org(ctx, in.OrgID)
		if errors.Is(err, store.ErrNotFound) {
			return invalid("org_id", "org %q does not exist; create it first", in.OrgID)
		} else if err != nil {
			return err
		}
	}
	if in.UserID != "" {
		u, err := h.opts.Store.User(ctx, in.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return invalid("user_id", "user %q does not exist; create it first with POST /admin/v1/users", in.UserID)
		} else if err != nil {
			return err
		}
		if in.OrgID != "" && u.OrgID != in.OrgID {
			return invalid("user_id", "user %s belongs to org %s, not %s", u.ID, u.OrgID, in.OrgID)
		}
	}
	return nil
}

func (h *handler) listKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	f := store.KeyFilter{OrgID: q.Get("org"), TeamID: q.Get("team"), UserID: q.Get("user")}
	if v := q.Get("include_revoked"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return invalid("include_revoked", "include_revoked must be true or false, not %q", v)
		}
		f.IncludeRevoked = b
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
	var keys []store.Key
	for _, team := range teams {
		f.TeamID = team
		page, err := h.opts.Store.ListKeys(r.Context(), f)
		if err != nil {
			return err
		}
		keys = append(keys, page...)
	}
	writeJSON(w, http.StatusOK, list(keys))
	return nil
}

// loadKey fetches a key and checks the call may act on its team.
func (h *handler) loadKey(r *http.Request, c *call) (store.Key, error) {
	id := r.PathValue("id")
	c.target("key/"+id, "", "")
	k, err := h.opts.Store.Key(r.Context(), id)
	if err != nil {
		return store.Key{}, storeError(err, "key "+id)
	}
	c.target("key/"+id, k.TeamID, k.OrgID)
	if err := c.inTeam(k.TeamID, "key "+id); err != nil {
		return store.Key{}, err
	}
	return k, nil
}

func (h *handler) getKey(w http.ResponseWriter, r *http.Request, c *call) error {
	k, err := h.loadKey(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (h *handler) updateKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var in adminv1.KeyUpdate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	k, err := h.loadKey(r, c)
	if err != nil {
		return err
	}
	if in.Name != nil {
		if k.Name = strings.TrimSpace(*in.Name); k.Name == "" {
			return invalid("name", "name must not be empty")
		}
	}
	setIf(&k.AllowedModels, in.AllowedModels)
	setIf(&k.AllowedRegions, in.AllowedRegions)
	setIf(&k.AllowedProviders, in.AllowedProviders)
	setIf(&k.RequireZDR, in.RequireZDR)
	setIf(&k.AllowRouteOverride, in.AllowRouteOverride)
	setIf(&k.Metadata, in.Metadata)
	setIf(&k.RPM, in.RPM)
	setIf(&k.TPM, in.TPM)
	if err := validateLimits(k.RPM, k.TPM); err != nil {
		return err
	}
	switch {
	case in.ClearExpiry && in.ExpiresAt != nil:
		return invalid("clear_expiry", "send either expires_at or clear_expiry, not both")
	case in.ClearExpiry:
		k.ExpiresAt = nil
	case in.ExpiresAt != nil:
		if err := h.validateExpiry(in.ExpiresAt); err != nil {
			return err
		}
		k.ExpiresAt = in.ExpiresAt
	}
	k, err = h.opts.Store.UpdateKey(r.Context(), k)
	if err != nil {
		return storeError(err, "key "+k.ID)
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func parseGrace(v string) (time.Duration, error) {
	if v == "" {
		return defaultGrace, nil
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, invalid("grace", "grace %q is not a duration; use a Go duration such as \"1h\" or \"30m\"", v)
	case d < 0:
		return 0, invalid("grace", "grace must not be negative; use \"0s\" to retire the old secret at once")
	case d > maxGrace:
		return 0, invalid("grace", "grace %s is longer than the %s maximum", d, maxGrace)
	}
	return d, nil
}

func (h *handler) rotateKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var in adminv1.KeyRotate
	if err := decode(r, &in, true); err != nil {
		return err
	}
	old, err := h.loadKey(r, c)
	if err != nil {
		return err
	}
	grace, err := parseGrace(in.Grace)
	if err != nil {
		return err
	}
	switch {
	case old.RevokedAt != nil:
		return conflict("key %s is revoked; create a new key instead of rotating it", old.ID)
	case old.RotatedTo != "":
		return conflict("key %s was already rotated to %s; rotate that key instead", old.ID, old.RotatedTo)
	}
	g := auth.GenerateKey()
	succ := old
	succ.ID, succ.Hash, succ.Prefix = "", g.Hash, g.Prefix
	succ.RevokedAt, succ.GraceUntil, succ.RotatedTo = nil, nil, ""
	succ.CreatedAt, succ.UpdatedAt = time.Time{}, time.Time{}
	k, err := h.opts.Store.RotateKey(r.Context(), old.ID, succ, h.opts.Now().Add(grace))
	if err != nil {
		return storeError(err, "key "+old.ID)
	}
	prev, err := h.opts.Store.Key(r.Context(), old.ID)
	if err != nil {
		return fmt.Errorf("admin: reload rotated key %s: %w", old.ID, err)
	}
	writeSecret(w, http.StatusOK, adminv1.KeySecret{Secret: g.Secret, Key: k, Previous: &prev})
	return nil
}

func (h *handler) revokeKey(w http.ResponseWriter, r *http.Request, c *call) error {
	k, err := h.loadKey(r, c)
	if err != nil {
		return err
	}
	k, err = h.opts.Store.RevokeKey(r.Context(), k.ID, h.opts.Now())
	if err != nil {
		return storeError(err, "key "+k.ID)
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}
