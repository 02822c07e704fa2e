// Package fleet runs every simulated cloud on loopback, for `switchyard
// sim`, for `switchyard serve`'s embedded default, and for tests. It is the
// one place that knows all the fakes, as provider/all knows all adapters.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/anthropicsim"
	"github.com/switchyard/switchyard/internal/sim/azuresim"
	"github.com/switchyard/switchyard/internal/sim/bedrocksim"
	"github.com/switchyard/switchyard/internal/sim/openaisim"
	"github.com/switchyard/switchyard/internal/sim/vertexsim"
)

// Credentials the fakes accept. They are fixed, public values: the fakes
// guard nothing, but checking credentials keeps them faithful.
const (
	OpenAIKey      = "sk-sim-openai-0000000000000000"
	AzureKey       = "sim-azure-key-00000000000000"
	AnthropicKey   = "sk-ant-sim-0000000000000000"
	AWSAccessKeyID = "AKIASIMULATED0000000"
	AWSSecretKey   = "simulated/secret/key/000000000000000000000"
	VertexProject  = "switchyard-sim"
	vertexKeyFile  = "vertex-sim-service-account.json"
)

// Cloud is one running fake.
type Cloud struct {
	// Name is the cloud: openai, azure, bedrock, vertex, anthropic.
	Name string
	// URL is the fake's base URL, e.g. http://127.0.0.1:41234.
	URL string
	// Engine scripts the fake and injects its faults.
	Engine *sim.Engine
	// Env holds what a config needs to reach the fake, as variables for
	// ${NAME} references (URL, keys, credential files).
	Env map[string]string

	srv *http.Server
}

// Fleet is a set of running fakes.
type Fleet struct {
	Clouds map[string]*Cloud
}

// Options tunes Start.
type Options struct {
	// Host is the address to listen on. Default 127.0.0.1.
	Host string
	// BasePort, when non-zero, gives the fakes fixed ports from BasePort
	// upwards in the order of Names(); zero picks free ports.
	BasePort int
	// DataDir is where fakes that need files (a service-account key) write
	// them. Default os.TempDir().
	DataDir string
}

// maker builds one fake's handler and the variables a config needs.
type maker func(eng *sim.Engine, url string, opts Options) (http.Handler, map[string]string, error)

var makers = map[string]maker{
	"openai": func(eng *sim.Engine, url string, _ Options) (http.Handler, map[string]string, error) {
		return openaisim.New(eng, openaisim.Options{APIKeys: []string{OpenAIKey}}),
			map[string]string{"SIM_OPENAI_URL": url, "SIM_OPENAI_KEY": OpenAIKey}, nil
	},
	"azure": func(eng *sim.Engine, url string, _ Options) (http.Handler, map[string]string, error) {
		return azuresim.New(eng, azuresim.Options{APIKeys: []string{AzureKey}}),
			map[string]string{"SIM_AZURE_URL": url, "SIM_AZURE_KEY": AzureKey}, nil
	},
	"anthropic": func(eng *sim.Engine, url string, _ Options) (http.Handler, map[string]string, error) {
		return anthropicsim.New(eng, anthropicsim.Options{APIKeys: []string{AnthropicKey}}),
			map[string]string{"SIM_ANTHROPIC_URL": url, "SIM_ANTHROPIC_KEY": AnthropicKey}, nil
	},
	"bedrock": func(eng *sim.Engine, url string, _ Options) (http.Handler, map[string]string, error) {
		return bedrocksim.New(eng, bedrocksim.Options{AccessKeyID: AWSAccessKeyID, SecretAccessKey: AWSSecretKey}),
			map[string]string{"SIM_BEDROCK_URL": url, "SIM_AWS_ACCESS_KEY_ID": AWSAccessKeyID, "SIM_AWS_SECRET_ACCESS_KEY": AWSSecretKey}, nil
	},
	"vertex": func(eng *sim.Engine, url string, opts Options) (http.Handler, map[string]string, error) {
		sa, err := vertexsim.NewServiceAccount(VertexProject, url+"/token")
		if err != nil {
			return nil, nil, err
		}
		// The adapter reads the key from a file, as it would a real one.
		path := filepath.Join(opts.DataDir, vertexKeyFile)
		if err := os.WriteFile(path, sa.KeyJSON, 0o600); err != nil {
			return nil, nil, err
		}
		return vertexsim.New(eng, vertexsim.Options{Accounts: []*vertexsim.ServiceAccount{sa}}),
			map[string]string{"SIM_VERTEX_URL": url, "SIM_VERTEX_PROJECT": VertexProject, "SIM_VERTEX_CREDENTIALS_FILE": path}, nil
	},
}

// Names returns the clouds this build simulates, sorted.
func Names() []string {
	names := make([]string, 0, len(makers))
	for n := range makers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Start runs every fake. Close stops them.
func Start(opts Options) (*Fleet, error) {
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.DataDir == "" {
		opts.DataDir = os.TempDir()
	}
	f := &Fleet{Clouds: map[string]*Cloud{}}
	for i, name := range Names() {
		port := 0
		if opts.BasePort != 0 {
			port = opts.BasePort + i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(opts.Host, fmt.Sprint(port)))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("simulated %s: %w", name, err)
		}
		url := "http://" + ln.Addr().String()
		eng := sim.NewEngine(name)
		h, env, err := makers[name](eng, url, opts)
		if err != nil {
			ln.Close()
			f.Close()
			return nil, fmt.Errorf("simulated %s: %w", name, err)
		}
		c := &Cloud{Name: name, URL: url, Engine: eng, Env: env,
			srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
		go func() { _ = c.srv.Serve(ln) }()
		f.Clouds[name] = c
	}
	return f, nil
}

// Env returns every fake's config variables in one map.
func (f *Fleet) Env() map[string]string {
	out := map[string]string{}
	for _, c := range f.Clouds {
		for k, v := range c.Env {
			out[k] = v
		}
	}
	return out
}

// Close stops every fake, dropping connections still open.
func (f *Fleet) Close() error {
	var errs []error
	for _, c := range f.Clouds {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if err := c.srv.Shutdown(ctx); err != nil {
			errs = append(errs, c.srv.Close())
		}
		cancel()
	}
	return errors.Join(errs...)
}
