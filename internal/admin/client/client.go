// Package client is a small typed Go client for the admin API, used by
// the switchyard command line.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/admin/adminv1"
	"github.com/switchyard/switchyard/internal/store"
)

// Error is an error answer from the admin API.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Message, Type, Code and Param are the API's error body.
	Message, Type, Code, Param string
}

// Error returns the API's message, which says what to do.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("admin API answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Message
}

// Client calls one gateway's admin API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Option tunes a Client.
type Option func(*Client)

// WithHTTPClient replaces the default client (30s timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client for the gateway at baseURL ("http://host:8080"),
// authenticating with token (the bootstrap token or an SSO token).
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// do sends one request; in, when non-nil, is the JSON body and out, when
// non-nil, receives the JSON answer.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("admin API %s %s: unreadable answer: %w", method, path, err)
	}
	return nil
}

// send returns the response of a 2xx answer, with an unread body, or an
// *Error.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	u := c.base + "/admin/v1" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("admin API: bad URL %q: %w", c.base, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the gateway's admin API at %s (is it running? set --url or SWITCHYARD_URL): %w", c.base, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	apiErr := &Error{Status: resp.StatusCode}
	var eb adminv1.ErrorBody
	if json.Unmarshal(raw, &eb) == nil && eb.Error.Message != "" {
		apiErr.Message, apiErr.Type, apiErr.Code, apiErr.Param = eb.Error.Message, eb.Error.Type, eb.Error.Code, eb.Error.Param
	} else {
		apiErr.Message = fmt.Sprintf("admin API answered %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	return nil, apiErr
}

func esc(id string) string { return url.PathEscape(id) }

// KeyFilter narrows ListKeys.
type KeyFilter struct {
	OrgID, TeamID, UserID string
	IncludeRevoked        bool
}

// CreateKey creates a key; the returned Secret is shown this once.
func (c *Client) CreateKey(ctx context.Context, in adminv1.KeyCreate) (adminv1.KeySecret, error) {
	var out adminv1.KeySecret
	return out, c.do(ctx, http.MethodPost, "/keys", nil, in, &out)
}

// ListKeys lists keys, newest first.
func (c *Client) ListKeys(ctx context.Context, f KeyFilter) ([]store.Key, error) {
	q := url.Values{}
	setQ(q, "org", f.OrgID)
	setQ(q, "team", f.TeamID)
	setQ(q, "user", f.UserID)
	if f.IncludeRevoked {
		q.Set("include_revoked", "true")
	}
	var out adminv1.List[store.Key]
	return out.Data, c.do(ctx, http.MethodGet, "/keys", q, nil, &out)
}

// Key returns one key (never its secret).
func (c *Client) Key(ctx context.Context, id string) (store.Key, error) {
	var out store.Key
	return out, c.do(ctx, http.MethodGet, "/keys/"+esc(id), nil, nil, &out)
}

// UpdateKey changes the fields set in in.
func (c *Client) UpdateKey(ctx context.Context, id string, in adminv1.KeyUpdate) (store.Key, error) {
	var out store.Key
	return out, c.do(ctx, http.MethodPatch, "/keys/"+esc(id), nil, in, &out)
}

// RotateKey issues a successor; the old secret keeps working for
// in.Grace (empty: the server's default of 24h).
func (c *Client) RotateKey(ctx context.Context, id string, in adminv1.KeyRotate) (adminv1.KeySecret, error) {
	var out adminv1.KeySecret
	return out, c.do(ctx, http.MethodPost, "/keys/"+esc(id)+"/rotate", nil, in, &out)
}

// RevokeKey stops a key at once.
func (c *Client) RevokeKey(ctx context.Context, id string) (store.Key, error) {
	var out store.Key
	return out, c.do(ctx, http.MethodPost, "/keys/"+esc(id)+"/revoke", nil, nil, &out)
}

// CreateOrg creates an org.
func (c *Client) CreateOrg(ctx context.Context, in adminv1.OrgCreate) (store.Org, error) {
	var out store.Org
	return out, c.do(ctx, http.MethodPost, "/orgs", nil, in, &out)
}

// ListOrgs lists every org.
func (c *Client) ListOrgs(ctx context.Context) ([]store.Org, error) {
	var out adminv1.List[store.Org]
	return out.Data, c.do(ctx, http.MethodGet, "/orgs", nil, nil, &out)
}

// CreateTeam creates a team.
func (c *Client) CreateTeam(ctx context.Context, in adminv1.TeamCreate) (store.Team, error) {
	var out store.Team
	return out, c.do(ctx, http.MethodPost, "/teams", nil, in, &out)
}

// UpdateTeam changes the fields in.
func (c *Client) UpdateTeam(ctx context.Context, id string, in adminv1.TeamUpdate) (store.Team, error) {
	var out store.Team
	return out, c.do(ctx, http.MethodPatch, "/teams/"+esc(id), nil, in, &out)
}

// ListTeams lists the teams of orgID, or all when empty.
func (c *Client) ListTeams(ctx context.Context, orgID string) ([]store.Team, error) {
	q := url.Values{}
	setQ(q, "org", orgID)
	var out adminv1.List[store.Team]
	return out.Data, c.do(ctx, http.MethodGet, "/teams", q, nil, &out)
}

// UsageQuery selects a usage report; zero fields take the server's
// defaults (this month, grouped by team).
type UsageQuery struct {
	From, To             time.Time
	GroupBy              string
	OrgID, TeamID, KeyID string
}

// Usage returns aggregated usage.
func (c *Client) Usage(ctx context.Context, uq UsageQuery) (adminv1.UsageReport, error) {
	q := url.Values{}
	setTime(q, "from", uq.From)
	setTime(q, "to", uq.To)
	setQ(q, "group_by", uq.GroupBy)
	setQ(q, "org", uq.OrgID)
	setQ(q, "team", uq.TeamID)
	setQ(q, "key", uq.KeyID)
	var out adminv1.UsageReport
	return out, c.do(ctx, http.MethodGet, "/usage", q, nil, &out)
}

// AuditFilter selects records for AuditExport.
type AuditFilter struct {
	From, To time.Time
	TeamID   string
}

// AuditExport copies the audit log, as JSON Lines, to w.
func (c *Client) AuditExport(ctx context.Context, f AuditFilter, w io.Writer) error {
	q := url.Values{}
	setTime(q, "from", f.From)
	setTime(q, "to", f.To)
	setQ(q, "team", f.TeamID)
	resp, err := c.send(ctx, http.MethodGet, "/audit", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("audit export interrupted: %w", err)
	}
	return nil
}

// AuditVerify asks the gateway to verify the audit chain.
func (c *Client) AuditVerify(ctx context.Context) (adminv1.AuditVerify, error) {
	var out adminv1.AuditVerify
	return out, c.do(ctx, http.MethodGet, "/audit/verify", nil, nil, &out)
}

// Status returns the router's deployment status as the gateway sent it.
func (c *Client) Status(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, http.MethodGet, "/status", nil, nil, &out)
}

// ListApprovals lists approvals with status ("" for all).
func (c *Client) ListApprovals(ctx context.Context, status string) ([]store.Approval, error) {
	q := url.Values{}
	setQ(q, "status", status)
	var out adminv1.List[store.Approval]
	return out.Data, c.do(ctx, http.MethodGet, "/approvals", q, nil, &out)
}

// Approval returns one approval.
func (c *Client) Approval(ctx context.Context, id string) (store.Approval, error) {
	var out store.Approval
	return out, c.do(ctx, http.MethodGet, "/approvals/"+esc(id), nil, nil, &out)
}

// Approve releases a held request.
func (c *Client) Approve(ctx context.Context, id, comment string) (store.Approval, error) {
	var out store.Approval
	return out, c.do(ctx, http.MethodPost, "/approvals/"+esc(id)+"/approve", nil, adminv1.Decision{Comment: comment}, &out)
}

// Deny discards a held request.
func (c *Client) Deny(ctx context.Context, id, comment string) (store.Approval, error) {
	var out store.Approval
	return out, c.do(ctx, http.MethodPost, "/approvals/"+esc(id)+"/deny", nil, adminv1.Decision{Comment: comment}, &out)
}

func setQ(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func setTime(q url.Values, k string, t time.Time) {
	if !t.IsZero() {
		q.Set(k, t.UTC().Format(time.RFC3339))
	}
}
