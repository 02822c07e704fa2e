package openai

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is where the "openai" provider sends requests unless
// base_url says otherwise.
const DefaultBaseURL = "https://api.openai.com/v1"

// Options configure an "openai" deployment. The config loader has already
// expanded ${ENV} and file: references, so every field is a plain value.
type Options struct {
	// BaseURL is the API root, up to and including /v1.
	// Default https://api.openai.com/v1.
	BaseURL string `yaml:"base_url"`
	// APIKey is sent as "Authorization: Bearer"; never logged.
	APIKey string `yaml:"api_key"`
	// Organization is sent as OpenAI-Organization, when set.
	Organization string `yaml:"organization"`
	// Project is sent as OpenAI-Project, when set.
	Project string `yaml:"project"`
	// Headers are extra headers sent with every request. They cannot
	// replace Authorization while api_key is set.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds a non-streamed request, and a streamed one until its
	// response headers arrive. Default 0: no bound beyond the caller's.
	Timeout time.Duration `yaml:"timeout"`
}

// Validate checks the options of an "openai" deployment.
func (o *Options) Validate() error {
	if o.BaseURL != "" {
		if err := checkBaseURL("base_url", o.BaseURL); err != nil {
			return err
		}
	}
	if o.Timeout < 0 {
		return errors.New("timeout must not be negative")
	}
	for name := range o.Headers {
		if !validHeaderName(name) {
			return fmt.Errorf("headers: %q is not a valid HTTP header name", name)
		}
		if o.APIKey != "" && strings.EqualFold(name, "Authorization") {
			return errors.New("headers: Authorization cannot be set while api_key is set; use one or the other")
		}
	}
	return nil
}

// baseURL returns the configured base URL or the default.
func (o *Options) baseURL() string {
	if o.BaseURL == "" {
		return DefaultBaseURL
	}
	return o.BaseURL
}

// CompatibleOptions configure an "openai-compatible" deployment: a
// self-hosted server that speaks OpenAI's API. BaseURL is required
// (e.g. http://localhost:8000/v1 for vLLM, http://localhost:11434/v1 for
// Ollama); APIKey is optional.
type CompatibleOptions struct {
	Options `yaml:",inline"`
}

// Validate checks the options of an "openai-compatible" deployment.
func (o *CompatibleOptions) Validate() error {
	if o.BaseURL == "" {
		return errors.New("base_url is required for openai-compatible deployments, e.g. http://localhost:8000/v1")
	}
	return o.Options.Validate()
}

// checkBaseURL accepts absolute http(s) URLs without query or fragment.
func checkBaseURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error repeats the URL, which may hold credentials.
		return fmt.Errorf("%s is not a valid URL", field)
	}
	if u.User != nil {
		return fmt.Errorf("%s must not carry credentials in the URL; use api_key", field)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%s: %q must start with https:// (or http:// for a local server)", field, raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%s: %q has no host", field, raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%s: %q must not have a query or fragment", field, raw)
	}
	return nil
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if c > 127 || c <= ' ' || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// headerOf builds the static headers every request carries.
func (o *Options) headerOf() http.Header {
	h := http.Header{}
	for k, v := range o.Headers {
		h.Set(k, v)
	}
	if o.Organization != "" {
		h.Set("OpenAI-Organization", o.Organization)
	}
	if o.Project != "" {
		h.Set("OpenAI-Project", o.Project)
	}
	return h
}
