package vertex

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

// cloudPlatformScope is the OAuth scope Vertex AI requires.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// newTokenSource returns the deployment's cached token source. Tokens are
// fetched once and reused until shortly before they expire (oauth2's
// ReuseTokenSource refreshes ten seconds early), never per request.
//
// A service-account key's token_uri names the token endpoint, so a key
// made for a simulator sends its JWT assertion there instead of Google.
func newTokenSource(o *Options, client *http.Client) (oauth2.TokenSource, error) {
	// The token source keeps this context for every later refresh, so it
	// must not be a request's context; it only carries the HTTP client.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	params := google.CredentialsParams{Scopes: []string{cloudPlatformScope}}
	var keyJSON []byte
	switch {
	case o.CredentialsJSON != "":
		keyJSON = []byte(o.CredentialsJSON)
	case o.CredentialsFile != "":
		b, err := os.ReadFile(o.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("vertex: reading options.credentials_file: %w", err)
		}
		keyJSON = b
	default:
		creds, err := google.FindDefaultCredentialsWithParams(ctx, params)
		if err != nil {
			return nil, fmt.Errorf("vertex: no options.credentials_file or credentials_json, and no application default credentials: %w", err)
		}
		return oauth2.ReuseTokenSource(nil, creds.TokenSource), nil
	}
	creds, err := google.CredentialsFromJSONWithTypeAndParams(ctx, keyJSON, google.ServiceAccount, params)
	if err != nil {
		return nil, fmt.Errorf("vertex: the credentials are not a usable service-account key (type %q expected): %w", google.ServiceAccount, err)
	}
	return oauth2.ReuseTokenSource(nil, creds.TokenSource), nil
}
