package openai

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/internal/provider"
)

// Registered provider names.
const (
	// Name is OpenAI's own API.
	Name = "openai"
	// CompatibleName is any server that speaks OpenAI's API.
	CompatibleName = "openai-compatible"
)

func init() {
	provider.Register(Name, provider.Factory{
		NewOptions: func() any { return &Options{} },
		New:        func(cfg provider.Config) (provider.Provider, error) { return newProvider(Name, cfg) },
	})
	provider.Register(CompatibleName, provider.Factory{
		NewOptions: func() any { return &CompatibleOptions{} },
		New:        func(cfg provider.Config) (provider.Provider, error) { return newProvider(CompatibleName, cfg) },
	})
}

func newProvider(name string, cfg provider.Config) (provider.Provider, error) {
	var opts *Options
	switch o := cfg.Options.(type) {
	case *Options:
		opts = o
	case *CompatibleOptions:
		opts = &o.Options
	default:
		return nil, fmt.Errorf("%s: options are %T, want *openai.Options", name, cfg.Options)
	}
	return New(name, cfg, opts), nil
}

// New returns the Client for an OpenAI or OpenAI-compatible deployment.
// opts must have passed Validate.
func New(name string, cfg provider.Config, opts *Options) *Client {
	base := strings.TrimRight(opts.baseURL(), "/")
	c := &Client{
		Provider:   name,
		Deployment: cfg.Deployment,
		URL:        func(op Operation) string { return base + "/" + string(op) },
		Header:     opts.headerOf(),
		Timeout:    opts.Timeout,
		HTTPClient: cfg.HTTPClient,
		Logger:     cfg.Logger,
	}
	if opts.APIKey != "" {
		c.Authorize = BearerAuth(opts.APIKey)
	}
	return c
}

// BearerAuth returns an Authorize hook sending a fixed bearer token.
func BearerAuth(token string) func(*http.Request) error {
	value := "Bearer " + token
	return func(req *http.Request) error {
		req.Header.Set("Authorization", value)
		return nil
	}
}
