// Package provider defines the seam every cloud adapter plugs into.
//
// An adapter is one package under internal/provider/<name> that implements
// Provider for one deployment (one model at one cloud endpoint) and
// registers a Factory for its name in init. The gateway never imports an
// adapter: internal/provider/all imports them all for their side effect.
package provider

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"

	"github.com/switchyard/switchyard/internal/llm"
)

// Provider serves chat completions for one deployment.
//
// Implementations must not modify the request they are given: the router
// may send the same request to several deployments. The request's Model is
// the client's alias; the adapter sends its own deployment's model id.
type Provider interface {
	ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error)
	StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error)
}

// Embedder is implemented by providers whose deployment serves embeddings.
type Embedder interface {
	Embeddings(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error)
}

// Deployment is what every adapter is told about the deployment it serves.
type Deployment struct {
	// Name is the operator's name for the deployment, unique in the config.
	Name string
	// Model is the provider-native model id (or Azure deployment name).
	Model string
	// Region is where the deployment runs, e.g. "westeurope", "us-east-1".
	Region string
	// ModelVersion is the exact model version the deployment serves.
	ModelVersion string
}

// Config is everything a Factory needs to build a Provider.
type Config struct {
	Deployment Deployment
	// Options is the value NewOptions returned, filled from the
	// deployment's `options:` block and validated.
	Options any
	// HTTPClient is shared by all deployments; non-nil.
	HTTPClient *http.Client
	// Logger is non-nil.
	Logger *slog.Logger
}

// Factory builds the Provider for one deployment of a registered name.
type Factory struct {
	// NewOptions returns a pointer to the adapter's options struct; config
	// loading decodes the deployment's `options:` block into it, rejecting
	// unknown fields, and calls its Validate method if it has one.
	NewOptions func() any
	// New builds the provider.
	New func(cfg Config) (Provider, error)
}

// Validator is implemented by options structs that check themselves.
type Validator interface {
	Validate() error
}

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a provider available under name. It panics if the name is
// taken or the factory is incomplete: both are programming errors.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if f.NewOptions == nil || f.New == nil {
		panic(fmt.Sprintf("provider %q: factory needs NewOptions and New", name))
	}
	if _, dup := factories[name]; dup {
		panic(fmt.Sprintf("provider %q registered twice", name))
	}
	factories[name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := factories[name]
	return f, ok
}

// Names returns the registered provider names, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
