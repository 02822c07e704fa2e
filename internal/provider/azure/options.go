package azure

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// API styles.
const (
	// StyleDeployments is the classic path,
	// /openai/deployments/{deployment}/chat/completions?api-version=...
	StyleDeployments = "deployments"
	// StyleV1 is the v1 API, /openai/v1/chat/completions, with the
	// deployment name as the body's model and no api-version.
	StyleV1 = "v1"
)

// DefaultScope is the Entra ID scope of Azure OpenAI tokens.
const DefaultScope = "https://cognitiveservices.azure.com/.default"

// Options configure an "azure" deployment. Exactly one way to
// authenticate must be set: api_key, bearer_token, or the Entra ID client
// credentials tenant_id + client_id + client_secret.
type Options struct {
	// Endpoint is the resource's endpoint, https://{resource}.openai.azure.com.
	Endpoint string `yaml:"endpoint"`
	// Deployment is the Azure deployment name. Default: the deployment's model.
	Deployment string `yaml:"deployment"`
	// APIVersion is the api-version query parameter, e.g. 2024-10-21.
	// Required for api_style "deployments"; unused by "v1".
	APIVersion string `yaml:"api_version"`
	// APIStyle is "deployments" (default) or "v1".
	APIStyle string `yaml:"api_style"`

	// APIKey is sent as the api-key header; never logged.
	APIKey string `yaml:"api_key"`
	// BearerToken is a static token sent as "Authorization: Bearer".
	BearerToken string `yaml:"bearer_token"`
	// TenantID, ClientID and ClientSecret are an Entra ID app's client
	// credentials; the token they buy is cached and refreshed before expiry.
	TenantID     string `yaml:"tenant_id"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// TokenURL overrides the token endpoint. Default
	// https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token.
	TokenURL string `yaml:"token_url"`
	// Scope is the token's scope. Default https://cognitiveservices.azure.com/.default.
	Scope string `yaml:"scope"`

	// Headers are extra headers sent with every request; they cannot
	// carry credentials (api-key, Authorization).
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds a non-streamed request, and a streamed one until its
	// response headers arrive. Default 0: no bound beyond the caller's.
	Timeout time.Duration `yaml:"timeout"`
}

var apiVersionPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Endpoint == "" {
		return errors.New("endpoint is required, e.g. https://my-resource.openai.azure.com")
	}
	if err := checkURL("endpoint", o.Endpoint); err != nil {
		return err
	}
	switch o.style() {
	case StyleDeployments:
		if o.APIVersion == "" {
			return errors.New(`api_version is required with api_style "deployments", e.g. 2024-10-21 (or use api_style "v1")`)
		}
		if !apiVersionPattern.MatchString(o.APIVersion) {
			return fmt.Errorf("api_version %q is not YYYY-MM-DD or YYYY-MM-DD-preview", o.APIVersion)
		}
	case StyleV1:
	default:
		return fmt.Errorf(`api_style %q is not "deployments" or "v1"`, o.APIStyle)
	}
	entra := o.TenantID != "" || o.ClientID != "" || o.ClientSecret != ""
	n := 0
	for _, set := range []bool{o.APIKey != "", o.BearerToken != "", entra} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return errors.New("no credentials: set api_key, bearer_token, or tenant_id + client_id + client_secret")
	case n > 1:
		return errors.New("set only one of api_key, bearer_token, or tenant_id + client_id + client_secret: Azure must not receive both an api-key and a bearer token")
	}
	if entra {
		var missing []string
		for name, v := range map[string]string{"tenant_id": o.TenantID, "client_id": o.ClientID, "client_secret": o.ClientSecret} {
			if v == "" {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("Entra ID credentials are incomplete: %s missing", strings.Join(slices.Sorted(slices.Values(missing)), ", "))
		}
	} else if o.TokenURL != "" || o.Scope != "" {
		return errors.New("token_url and scope apply only to Entra ID client credentials (tenant_id, client_id, client_secret)")
	}
	if o.TokenURL != "" {
		if err := checkURL("token_url", o.TokenURL); err != nil {
			return err
		}
	}
	if o.Timeout < 0 {
		return errors.New("timeout must not be negative")
	}
	for name := range o.Headers {
		if strings.EqualFold(name, "api-key") || strings.EqualFold(name, "Authorization") {
			return fmt.Errorf("headers: %s carries credentials; use api_key, bearer_token or Entra ID options", name)
		}
	}
	return nil
}

func (o *Options) style() string {
	if o.APIStyle == "" {
		return StyleDeployments
	}
	return o.APIStyle
}

func (o *Options) tokenURL() string {
	if o.TokenURL != "" {
		return o.TokenURL
	}
	return "https://login.microsoftonline.com/" + url.PathEscape(o.TenantID) + "/oauth2/v2.0/token"
}

func (o *Options) scope() string {
	if o.Scope != "" {
		return o.Scope
	}
	return DefaultScope
}

func checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a valid URL", field) // the error would repeat the URL
	}
	if u.User != nil {
		return fmt.Errorf("%s must not carry credentials in the URL", field)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s %q must be an absolute https:// URL", field, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s %q must not have a query or fragment", field, raw)
	}
	return nil
}
