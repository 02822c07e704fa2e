package vertexsim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ServiceAccount is a Google service account made up for a simulator: its
// key JSON has the shape of a downloaded key file, with token_uri pointing
// at the fake, so Google's own client libraries fetch tokens from it.
type ServiceAccount struct {
	// Email is the key's client_email, the JWT issuer the fake accepts.
	Email string
	// KeyJSON is the key file's content (type service_account).
	KeyJSON []byte
	// PublicKey verifies the account's JWT assertions.
	PublicKey *rsa.PublicKey
}

// NewServiceAccount generates a 2048-bit RSA key at run time and returns a
// service account of project whose key sends token requests to tokenURL
// (the fake's /token, e.g. "http://127.0.0.1:8123/token").
func NewServiceAccount(project, tokenURL string) (*ServiceAccount, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("vertexsim: generating a service-account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("vertexsim: encoding the service-account key: %w", err)
	}
	var kid [20]byte
	_, _ = rand.Read(kid[:])
	email := "switchyard-sim@" + project + ".iam.gserviceaccount.com"
	keyJSON, err := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  project,
		"private_key_id":              hex.EncodeToString(kid[:]),
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                email,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURL,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	return &ServiceAccount{Email: email, KeyJSON: keyJSON, PublicKey: &key.PublicKey}, nil
}

const (
	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	cloudPlatform  = "https://www.googleapis.com/auth/cloud-platform"
	// clockSkew is how far a client's clock may run ahead of the fake's.
	clockSkew = 60 * time.Second
)

// tokens mints and checks opaque access tokens.
type tokens struct {
	accounts map[string]*rsa.PublicKey
	audience string // "" means the URL the request reached
	lifetime time.Duration
	now      func() time.Time

	mu     sync.Mutex
	issued map[string]time.Time // token -> expiry; guarded by mu
}

type jwtClaims struct {
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// serveToken is the OAuth 2.0 token endpoint for the JWT-bearer grant
// (RFC 7523), as Google's service-account flow uses it.
func (t *tokens) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "the body must be form-encoded")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != jwtBearerGrant {
		oauthError(w, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not %s", g, jwtBearerGrant))
		return
	}
	if err := t.verify(r.PostForm.Get("assertion"), t.audienceFor(r)); err != nil {
		oauthError(w, "invalid_grant", err.Error())
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := "ya29.sim-" + base64.RawURLEncoding.EncodeToString(b[:])
	t.mu.Lock()
	t.issued[tok] = t.now().Add(t.lifetime)
	t.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"expires_in":   int(t.lifetime / time.Second),
		"token_type":   "Bearer",
	})
}

func (t *tokens) audienceFor(r *http.Request) string {
	if t.audience != "" {
		return t.audience
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/token"
}

// verify checks an RS256 JWT assertion: signature by a known account's key,
// iss, aud, the iat/exp window and the cloud-platform scope.
func (t *tokens) verify(assertion, audience string) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return fmt.Errorf("the assertion is not a JWT")
	}
	var header struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := decodeSegment(parts[0], &header); err != nil || header.Alg != "RS256" {
		return fmt.Errorf("the JWT header must name alg RS256")
	}
	var c jwtClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return fmt.Errorf("the JWT claims are not valid JSON")
	}
	pub, ok := t.accounts[c.Iss]
	if !ok {
		return fmt.Errorf("iss %q is not a known service account", c.Iss)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("the JWT signature is not base64url")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("Invalid JWT Signature")
	}
	if c.Aud != audience {
		return fmt.Errorf("aud %q is not this token endpoint %q", c.Aud, audience)
	}
	now := t.now()
	if time.Unix(c.Iat, 0).After(now.Add(clockSkew)) || !now.Before(time.Unix(c.Exp, 0)) {
		return fmt.Errorf("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim")
	}
	if c.Exp-c.Iat > 3600 {
		return fmt.Errorf("Invalid JWT: exp - iat is more than 3600 seconds")
	}
	if !hasScope(c.Scope, cloudPlatform) {
		return fmt.Errorf("the scope %q does not include %s", c.Scope, cloudPlatform)
	}
	return nil
}

func hasScope(scopes, want string) bool {
	for _, s := range strings.Fields(scopes) {
		if s == want {
			return true
		}
	}
	return false
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// valid reports whether the request carries a live token this fake issued.
func (t *tokens) valid(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, ok := t.issued[tok]
	return ok && t.now().Before(exp)
}

func oauthError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
