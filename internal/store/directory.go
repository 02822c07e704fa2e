package store

import (
	"context"
	"strings"
	"time"
)

// CreateOrg implements DirectoryStore.
func (s *sqlStore) CreateOrg(ctx context.Context, o Org) (Org, error) {
	if o.ID == "" {
		o.ID = NewID("org")
	}
	o.CreatedAt = orNow(o.CreatedAt)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)`),
		o.ID, o.Name, micros(o.CreatedAt))
	return o, mapErr(err, "store: create org")
}

// Org implements DirectoryStore.
func (s *sqlStore) Org(ctx context.Context, id string) (Org, error) {
	var o Org
	var created int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, name, created_at FROM orgs WHERE id = ?`), id).
		Scan(&o.ID, &o.Name, &created)
	o.CreatedAt = fromMicros(created)
	return o, mapErr(err, "store: org "+id)
}

// ListOrgs implements DirectoryStore.
func (s *sqlStore) ListOrgs(ctx context.Context) ([]Org, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created_at FROM orgs ORDER BY name, id`)
	if err != nil {
		return nil, mapErr(err, "store: list orgs")
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		var o Org
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &created); err != nil {
			return nil, mapErr(err, "store: list orgs")
		}
		o.CreatedAt = fromMicros(created)
		out = append(out, o)
	}
	return out, mapErr(rows.Err(), "store: list orgs")
}

const teamColumns = `id, org_id, name, allowed_models, allowed_regions, allowed_providers, rpm, tpm, created_at`

func scanTeam(sc scanner) (Team, error) {
	var t Team
	var models, regions, provs string
	var created int64
	if err := sc.Scan(&t.ID, &t.OrgID, &t.Name, &models, &regions, &provs, &t.RPM, &t.TPM, &created); err != nil {
		return Team{}, err
	}
	var err error
	if t.AllowedModels, err = decList(models); err != nil {
		return Team{}, err
	}
	if t.AllowedRegions, err = decList(regions); err != nil {
		return Team{}, err
	}
	if t.AllowedProviders, err = decList(provs); err != nil {
		return Team{}, err
	}
	t.CreatedAt = fromMicros(created)
	return t, nil
}

// CreateTeam implements DirectoryStore.
func (s *sqlStore) CreateTeam(ctx context.Context, t Team) (Team, error) {
	if t.ID == "" {
		t.ID = NewID("team")
	}
	t.CreatedAt = orNow(t.CreatedAt)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO teams (`+teamColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		t.ID, t.OrgID, t.Name, encList(t.AllowedModels), encList(t.AllowedRegions), encList(t.AllowedProviders),
		t.RPM, t.TPM, micros(t.CreatedAt))
	return t, mapErr(err, "store: create team")
}

// Team implements DirectoryStore.
func (s *sqlStore) Team(ctx context.Context, id string) (Team, error) {
	t, err := scanTeam(s.db.QueryRowContext(ctx, s.q(`SELECT `+teamColumns+` FROM teams WHERE id = ?`), id))
	return t, mapErr(err, "store: team "+id)
}

// ListTeams implements DirectoryStore.
func (s *sqlStore) ListTeams(ctx context.Context, orgID string) ([]Team, error) {
	query, args := `SELECT `+teamColumns+` FROM teams`, []any{}
	if orgID != "" {
		query += ` WHERE org_id = ?`
		args = append(args, orgID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY name, id`), args...)
	if err != nil {
		return nil, mapErr(err, "store: list teams")
	}
	defer rows.Close()
	var out []Team
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, mapErr(err, "store: list teams")
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err(), "store: list teams")
}

// UpdateTeam implements DirectoryStore.
func (s *sqlStore) UpdateTeam(ctx context.Context, t Team) (Team, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE teams SET name = ?, allowed_models = ?, allowed_regions = ?,
		allowed_providers = ?, rpm = ?, tpm = ? WHERE id = ?`),
		t.Name, encList(t.AllowedModels), encList(t.AllowedRegions), encList(t.AllowedProviders), t.RPM, t.TPM, t.ID)
	if err := affected(res, err, "store: update team "+t.ID); err != nil {
		return Team{}, err
	}
	return s.Team(ctx, t.ID)
}

const userColumns = `id, org_id, email, role, created_at`

func scanUser(sc scanner) (User, error) {
	var u User
	var created int64
	err := sc.Scan(&u.ID, &u.OrgID, &u.Email, &u.Role, &created)
	u.CreatedAt = fromMicros(created)
	return u, err
}

// CreateUser implements DirectoryStore. Emails are stored lowercased.
func (s *sqlStore) CreateUser(ctx context.Context, u User) (User, error) {
	if u.ID == "" {
		u.ID = NewID("usr")
	}
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	u.CreatedAt = orNow(u.CreatedAt)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?)`),
		u.ID, u.OrgID, u.Email, u.Role, micros(u.CreatedAt))
	return u, mapErr(err, "store: create user")
}

// User implements DirectoryStore.
func (s *sqlStore) User(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
	return u, mapErr(err, "store: user "+id)
}

// UserByEmail implements DirectoryStore.
func (s *sqlStore) UserByEmail(ctx context.Context, orgID, email string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userColumns+` FROM users WHERE org_id = ? AND email = ?`),
		orgID, strings.ToLower(strings.TrimSpace(email))))
	return u, mapErr(err, "store: user by email")
}

// ListUsers implements DirectoryStore.
func (s *sqlStore) ListUsers(ctx context.Context, orgID string) ([]User, error) {
	query, args := `SELECT `+userColumns+` FROM users`, []any{}
	if orgID != "" {
		query += ` WHERE org_id = ?`
		args = append(args, orgID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY email, id`), args...)
	if err != nil {
		return nil, mapErr(err, "store: list users")
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, mapErr(err, "store: list users")
		}
		out = append(out, u)
	}
	return out, mapErr(rows.Err(), "store: list users")
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return Now()
	}
	return Truncate(t)
}
