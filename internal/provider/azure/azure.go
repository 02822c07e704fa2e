// Package azure adapts Azure OpenAI to Switchyard's provider seam.
//
// Azure speaks OpenAI's protocol with other URLs and other credentials, so
// the adapter is an openai.Client whose URL and Authorize hooks are
// Azure's; requests, streams and errors are the OpenAI adapter's own.
package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/provider/openai"
)

// Name is the registered provider name.
const Name = "azure"

func init() {
	provider.Register(Name, provider.Factory{
		NewOptions: func() any { return &Options{} },
		New: func(cfg provider.Config) (provider.Provider, error) {
			opts, ok := cfg.Options.(*Options)
			if !ok {
				return nil, fmt.Errorf("azure: options are %T, want *azure.Options", cfg.Options)
			}
			return New(cfg, opts), nil
		},
	})
}

// New returns the client for an Azure OpenAI deployment. opts must have
// passed Validate.
func New(cfg provider.Config, opts *Options) *openai.Client {
	deployment := opts.Deployment
	if deployment == "" {
		deployment = cfg.Deployment.Model
	}
	header := http.Header{}
	for k, v := range opts.Headers {
		header.Set(k, v)
	}
	return &openai.Client{
		Provider:   Name,
		Deployment: cfg.Deployment,
		Model:      deployment,
		URL:        URLFunc(opts.Endpoint, deployment, opts.style(), opts.APIVersion),
		Authorize:  authorizer(cfg, opts),
		Header:     header,
		Timeout:    opts.Timeout,
		HTTPClient: cfg.HTTPClient,
		Logger:     cfg.Logger,
	}
}

// URLFunc returns the URL hook for an Azure deployment in the given API
// style ("deployments" or "v1").
func URLFunc(endpoint, deployment, style, apiVersion string) func(openai.Operation) string {
	base := strings.TrimRight(endpoint, "/")
	if style == StyleV1 {
		return func(op openai.Operation) string { return base + "/openai/v1/" + string(op) }
	}
	prefix := base + "/openai/deployments/" + url.PathEscape(deployment) + "/"
	query := "?api-version=" + url.QueryEscape(apiVersion)
	return func(op openai.Operation) string { return prefix + string(op) + query }
}

// authorizer returns the Authorize hook for the one credential configured.
func authorizer(cfg provider.Config, opts *Options) func(*http.Request) error {
	switch {
	case opts.APIKey != "":
		key := opts.APIKey
		return func(req *http.Request) error {
			req.Header.Del("Authorization")
			req.Header.Set("Api-Key", key)
			return nil
		}
	case opts.BearerToken != "":
		return openai.BearerAuth(opts.BearerToken)
	default:
		return entraAuth(cfg, opts)
	}
}

// entraAuth fetches Entra ID tokens with client credentials. The token
// source caches the token and refreshes it shortly before it expires, so
// requests do not each pay for a token round trip. A request that must
// wait for a fetch stops waiting when its own context ends (oauth2's
// Token takes no context); the fetch goes on for the requests after it.
func entraAuth(cfg provider.Config, opts *Options) func(*http.Request) error {
	cc := &clientcredentials.Config{
		ClientID:     opts.ClientID,
		ClientSecret: opts.ClientSecret,
		TokenURL:     opts.tokenURL(),
		Scopes:       []string{opts.scope()},
	}
	// The token source outlives any one request, so it gets its own
	// context carrying the shared HTTP client.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, cfg.HTTPClient)
	source := cc.TokenSource(ctx)
	var last atomic.Pointer[oauth2.Token]
	deployment := cfg.Deployment.Name
	return func(req *http.Request) error {
		tok := last.Load()
		if !tok.Valid() { // Valid is false for nil and near expiry
			type fetched struct {
				tok *oauth2.Token
				err error
			}
			done := make(chan fetched, 1)
			go func() {
				t, err := source.Token()
				if err == nil {
					last.Store(t)
				}
				done <- fetched{t, err}
			}()
			var f fetched
			select {
			case f = <-done:
			case <-req.Context().Done():
				return req.Context().Err()
			}
			if f.err != nil {
				cfg.Logger.Warn("entra token request failed", "provider", Name, "deployment", deployment, "error", redactTokenError(f.err))
				return &llm.Error{Status: http.StatusBadGateway, Type: llm.TypeAPI, Code: "upstream_auth_failed", Upstream: true,
					Message: fmt.Sprintf("deployment %s could not get an Entra ID token for azure (%s); the client's key was fine, check the deployment's tenant_id, client_id and client_secret",
						deployment, redactTokenError(f.err))}
			}
			tok = f.tok
		}
		req.Header.Del("Api-Key")
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return nil
	}
}

// redactTokenError keeps what the token endpoint said (e.g. AADSTS7000215,
// invalid client secret) and drops the rest, which never holds the secret
// but may hold a long HTML body.
func redactTokenError(err error) string {
	if re, ok := err.(*oauth2.RetrieveError); ok {
		if re.ErrorCode != "" {
			msg := re.ErrorCode
			if re.ErrorDescription != "" {
				desc, _, _ := strings.Cut(re.ErrorDescription, "\n")
				msg += ": " + desc
			}
			return msg
		}
		if re.Response != nil {
			return "token endpoint answered " + re.Response.Status
		}
	}
	return "the token endpoint could not be reached"
}
