// Package anthropic is the provider adapter for Anthropic's own Messages
// API (api.anthropic.com), registered as "anthropic". The translation
// to and from the canonical types lives in internal/wire/anthropic, shared
// with Claude on Vertex AI and the Anthropic-compatible front door.
package anthropic

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/switchyard/switchyard/internal/provider"
	wire "github.com/switchyard/switchyard/internal/wire/anthropic"
)

// Name is the registered provider name.
const Name = "anthropic"

// DefaultBaseURL is Anthropic's API root.
const DefaultBaseURL = "https://api.anthropic.com"

// Options is an "anthropic" deployment's `options:` block.
type Options struct {
	// BaseURL is the API root, without /v1. Default https://api.anthropic.com.
	BaseURL string `yaml:"base_url"`
	// APIKey is sent as x-api-key; required, never logged.
	APIKey string `yaml:"api_key"`
	// Version is the anthropic-version header. Default 2023-06-01.
	Version string `yaml:"version"`
	// Beta lists anthropic-beta values (e.g. "prompt-caching-2024-07-31"),
	// sent comma-separated. Default none.
	Beta []string `yaml:"beta"`
	// DefaultMaxTokens is max_tokens when the client sent none (Anthropic
	// requires one). Default 4096.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.APIKey == "" {
		return errors.New("api_key is required")
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("base_url %q must be an http(s) URL such as %s", o.BaseURL, DefaultBaseURL)
		}
	}
	if o.DefaultMaxTokens < 0 {
		return errors.New("default_max_tokens must not be negative")
	}
	for _, b := range o.Beta {
		if b == "" || strings.ContainsAny(b, ", \t\r\n") {
			return fmt.Errorf("beta %q must be one anthropic-beta value without commas or spaces", b)
		}
	}
	return nil
}

func (o *Options) baseURL() string {
	if o.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(o.BaseURL, "/")
}

func (o *Options) version() string {
	if o.Version == "" {
		return wire.Version
	}
	return o.Version
}

func init() {
	provider.Register(Name, provider.Factory{
		NewOptions: func() any { return &Options{} },
		New: func(cfg provider.Config) (provider.Provider, error) {
			opts, ok := cfg.Options.(*Options)
			if !ok {
				return nil, fmt.Errorf("%s: options are %T, want *anthropic.Options", Name, cfg.Options)
			}
			return New(cfg, opts), nil
		},
	})
}

var _ provider.Validator = (*Options)(nil)
