package azuresim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/azuresim"
)

const chatBody = `{"messages":[{"role":"user","content":"hi"}]}`

type azureError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func send(t *testing.T, srv *httptest.Server, path string, header http.Header, body string) (*http.Response, azureError) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e azureError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp, e
}

func TestAzureRejections(t *testing.T) {
	key := http.Header{"Api-Key": {apiKey}}
	tests := []struct {
		name       string
		path       string
		header     http.Header
		body       string
		wantStatus int
		wantCode   string
		wantMsg    string
	}{
		{"missing api-version", "/openai/deployments/gpt-4o-prod/chat/completions", key, chatBody, 404, "404", "Resource not found"},
		{"invalid api-version", "/openai/deployments/gpt-4o-prod/chat/completions?api-version=latest", key, chatBody, 400, "BadRequest", "API version not supported"},
		{"no credentials", "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", nil, chatBody, 401, "401", "missing subscription key"},
		{"both credentials", "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", http.Header{"Api-Key": {apiKey}, "Authorization": {"Bearer x"}}, chatBody, 401, "401", "not both"},
		{"unknown bearer", "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", http.Header{"Authorization": {"Bearer forged"}}, chatBody, 401, "401", "Access token is missing, invalid"},
		{"key as bearer on classic", "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", http.Header{"Authorization": {"Bearer " + apiKey}}, chatBody, 401, "401", "Access token"},
		{"unknown deployment", "/openai/deployments/nope/chat/completions?api-version=2024-10-21", key, chatBody, 404, "DeploymentNotFound", "does not exist"},
		{"unknown v1 model", "/openai/v1/chat/completions", key, `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`, 404, "DeploymentNotFound", "does not exist"},
		{"malformed JSON", "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", key, `{"messages":`, 400, "BadRequest", "JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := sim.NewEngine("azure")
			srv := httptest.NewServer(azuresim.New(eng, options()))
			defer srv.Close()
			resp, e := send(t, srv, tt.path, tt.header, tt.body)
			if resp.StatusCode != tt.wantStatus || e.Error.Code != tt.wantCode || !strings.Contains(e.Error.Message, tt.wantMsg) {
				t.Errorf("got %d %+v; want %d %q containing %q", resp.StatusCode, e.Error, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestV1AcceptsKeyAsBearer(t *testing.T) {
	eng := sim.NewEngine("azure")
	srv := httptest.NewServer(azuresim.New(eng, options()))
	defer srv.Close()
	resp, e := send(t, srv, "/openai/v1/chat/completions", http.Header{"Authorization": {"Bearer " + apiKey}}, `{"model":"gpt-4o-prod","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Errorf("v1 with key as bearer = %d %+v; want 200", resp.StatusCode, e)
	}
}

func TestTokenEndpoint(t *testing.T) {
	form := func(mut func(v url.Values)) string {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"https://cognitiveservices.azure.com/.default"}}
		mut(v)
		return v.Encode()
	}
	tests := []struct {
		name       string
		tenant     string
		body       string
		wantStatus int
		wantError  string
	}{
		{"issues a token", tenant, form(func(url.Values) {}), 200, ""},
		{"wrong secret", tenant, form(func(v url.Values) { v.Set("client_secret", "nope") }), 401, "invalid_client"},
		{"unknown client", tenant, form(func(v url.Values) { v.Set("client_id", "other") }), 400, "unauthorized_client"},
		{"wrong grant", tenant, form(func(v url.Values) { v.Set("grant_type", "password") }), 400, "unsupported_grant_type"},
		{"scope without .default", tenant, form(func(v url.Values) { v.Set("scope", "https://cognitiveservices.azure.com") }), 400, "invalid_scope"},
		{"unknown tenant", "other-tenant", form(func(url.Values) {}), 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := sim.NewEngine("azure")
			fake := azuresim.New(eng, options())
			srv := httptest.NewServer(fake)
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/"+tt.tenant+"/oauth2/v2.0/token", "application/x-www-form-urlencoded", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			defer http.DefaultClient.CloseIdleConnections()
			var out struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || out.Error != tt.wantError {
				t.Fatalf("got %d %q; want %d %q", resp.StatusCode, out.Error, tt.wantStatus, tt.wantError)
			}
			if tt.wantError != "" && !strings.HasPrefix(out.Description, "AADSTS") {
				t.Errorf("description %q does not name the AADSTS code a person would search for", out.Description)
			}
			if tt.wantError == "" {
				if out.TokenType != "Bearer" || out.ExpiresIn != int(time.Hour.Seconds()) || out.AccessToken == "" {
					t.Errorf("token answer = %+v", out)
				}
				resp, e := send(t, srv, "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", http.Header{"Authorization": {"Bearer " + out.AccessToken}}, chatBody)
				if resp.StatusCode != 200 {
					t.Errorf("issued token refused: %d %+v", resp.StatusCode, e)
				}
			}
		})
	}
}

func TestExpiredTokenRefused(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := options()
	opts.Now = func() time.Time { return now }
	fake := azuresim.New(sim.NewEngine("azure"), opts)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {"x/.default"}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	now = now.Add(time.Hour) // the default lifetime has passed
	got, e := send(t, srv, "/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21", http.Header{"Authorization": {"Bearer " + out.AccessToken}}, chatBody)
	if got.StatusCode != 401 || e.Error.Code != "401" {
		t.Errorf("expired token answered %d %+v; want 401", got.StatusCode, e)
	}
}
