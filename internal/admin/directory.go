package admin

import (
	"errors"
	"net/http"
	"net/mail"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

func list[T any](items []T) adminv1.List[T] {
	if items == nil {
		items = []T{}
	}
	return adminv1.List[T]{Data: items}
}

func (h *handler) createOrg(w http.ResponseWriter, r *http.Request, c *call) error {
	var in adminv1.OrgCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return invalid("name", "name is required: give the org a name people recognise")
	}
	o, err := h.opts.Store.CreateOrg(r.Context(), store.Org{ID: in.ID, Name: in.Name})
	if err != nil {
		return storeError(err, "org "+in.ID)
	}
	c.target("org/"+o.ID, "", o.ID)
	writeJSON(w, http.StatusCreated, o)
	return nil
}

func (h *handler) listOrgs(w http.ResponseWriter, r *http.Request, _ *call) error {
	orgs, err := h.opts.Store.ListOrgs(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(orgs))
	return nil
}

func (h *handler) requireOrg(r *http.Request, orgID string) error {
	if orgID == "" {
		return invalid("org_id", "org_id is required; list orgs with GET /admin/v1/orgs")
	}
	_, err := h.opts.Store.Org(r.Context(), orgID)
	if errors.Is(err, store.ErrNotFound) {
		return invalid("org_id", "org %q does not exist; create it first with POST /admin/v1/orgs", orgID)
	}
	return err
}

func (h *handler) createTeam(w http.ResponseWriter, r *http.Request, c *call) error {
	var in adminv1.TeamCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" {
		return invalid("name", "name is required")
	}
	if err := validateLimits(in.RPM, in.TPM); err != nil {
		return err
	}
	if err := h.requireOrg(r, in.OrgID); err != nil {
		return err
	}
	t, err := h.opts.Store.CreateTeam(r.Context(), store.Team{
		ID: in.ID, OrgID: in.OrgID, Name: in.Name,
		AllowedModels: in.AllowedModels, AllowedRegions: in.AllowedRegions, AllowedProviders: in.AllowedProviders,
		RPM: in.RPM, TPM: in.TPM,
	})
	if err != nil {
		return storeError(err, "team "+in.ID)
	}
	c.target("team/"+t.ID, t.ID, t.OrgID)
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (h *handler) listTeams(w http.ResponseWriter, r *http.Request, c *call) error {
	teams, err := h.opts.Store.ListTeams(r.Context(), r.URL.Query().Get("org"))
	if err != nil {
		return err
	}
	teams = slices.DeleteFunc(teams, func(t store.Team) bool { return !c.scope.allows(t.ID) })
	writeJSON(w, http.StatusOK, list(teams))
	return nil
}

func (h *handler) getTeam(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("id")
	t, err := h.opts.Store.Team(r.Context(), id)
	if err != nil {
		return storeError(err, "team "+id)
	}
	if err := c.inTeam(t.ID, "team "+id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (h *handler) updateTeam(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("id")
	var in adminv1.TeamUpdate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	c.target("team/"+id, id, "")
	t, err := h.opts.Store.Team(r.Context(), id)
	if err != nil {
		return storeError(err, "team "+id)
	}
	c.orgID = t.OrgID
	if in.Name != nil {
		if t.Name = strings.TrimSpace(*in.Name); t.Name == "" {
			return invalid("name", "name must not be empty")
		}
	}
	setIf(&t.AllowedModels, in.AllowedModels)
	setIf(&t.AllowedRegions, in.AllowedRegions)
	setIf(&t.AllowedProviders, in.AllowedProviders)
	setIf(&t.RPM, in.RPM)
	setIf(&t.TPM, in.TPM)
	if err := validateLimits(t.RPM, t.TPM); err != nil {
		return err
	}
	t, err = h.opts.Store.UpdateTeam(r.Context(), t)
	if err != nil {
		return storeError(err, "team "+id)
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

// setIf overwrites *dst when the patch carries a value.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request, c *call) error {
	var in adminv1.UserCreate
	if err := decode(r, &in, false); err != nil {
		return err
	}
	if _, err := mail.ParseAddress(in.Email); err != nil || !strings.Contains(in.Email, "@") {
		return invalid("email", "email %q is not an email address", in.Email)
	}
	if !validRole(in.Role) {
		return invalid("role", "role %q is not a role; use one of %s", in.Role, strings.Join(adminv1.Roles, ", "))
	}
	if err := h.requireOrg(r, in.OrgID); err != nil {
		return err
	}
	u, err := h.opts.Store.CreateUser(r.Context(), store.User{OrgID: in.OrgID, Email: in.Email, Role: in.Role})
	if err != nil {
		return storeError(err, "user "+in.Email)
	}
	c.target("user/"+u.ID, "", u.OrgID)
	writeJSON(w, http.StatusCreated, u)
	return nil
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request, _ *call) error {
	users, err := h.opts.Store.ListUsers(r.Context(), r.URL.Query().Get("org"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(users))
	return nil
}
