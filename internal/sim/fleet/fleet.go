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
	"sort"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/openaisim"
)

// Credentials the fakes accept. They are fixed, public values: the fakes
// guard nothing, but checking credentials keeps them faithful.
const (
	OpenAIKey = "sk-sim-openai-0000000000000000"
	AzureKey  = "sim-azure-key-00000000000000"
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
