// Package app wires Switchyard together from a config: the adapters and
// the router, the gateway and its governance stages, the front doors, the
// admin API and the HTTP server. It is the only package that imports
// every adapter (through provider/all) and every fake (through sim/fleet).
package app

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	anthropicapi "github.com/switchyard/switchyard/internal/api/anthropic"
	openaiapi "github.com/switchyard/switchyard/internal/api/openai"
	"github.com/switchyard/switchyard/internal/approval"
	"github.com/switchyard/switchyard/internal/auth"
	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/govern"
	"github.com/switchyard/switchyard/internal/guard"
	"github.com/switchyard/switchyard/internal/logging"
	"github.com/switchyard/switchyard/internal/provider"
	_ "github.com/switchyard/switchyard/internal/provider/all" // every adapter registers itself
	"github.com/switchyard/switchyard/internal/route"
	"github.com/switchyard/switchyard/internal/server"
	"github.com/switchyard/switchyard/internal/sim/fleet"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/telemetry"
)

//go:embed demo.yaml
var demoConfig []byte

// ServeOptions says how to run the gateway.
type ServeOptions struct {
	// ConfigPath is the YAML config; "" runs the embedded default on
	// simulated clouds.
	ConfigPath string
	// Listen overrides server.listen when non-empty.
	Listen string
	// DataDir holds the embedded default's SQLite file and demo key.
	// Default "data".
	DataDir string
	// Stdout receives the start-up banner; logs go to Stderr.
	Stdout, Stderr io.Writer
	// Ready, if non-nil, receives the listening address once serving.
	Ready chan<- string
}

// Serve runs the gateway until ctx is done or SIGTERM/SIGINT arrives,
// reloading the config on SIGHUP, and returns nil after a clean drain.
func Serve(ctx context.Context, opts ServeOptions) error {
	if opts.DataDir == "" {
		opts.DataDir = "data"
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	tuneGC()

	load, demo, closeSims, err := configLoader(opts)
	if err != nil {
		return err
	}
	defer closeSims()
	cfg, err := load()
	if err != nil {
		return err
	}
	if opts.Listen != "" {
		cfg.Server.Listen = opts.Listen
	}
	log := logging.New(opts.Stderr, cfg.Server.LogLevel)

	gw, err := Build(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer gw.Close()

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Listen, err)
	}
	addr := ln.Addr().String()
	log.Info("switchyard serving", "addr", addr, "deployments", len(cfg.Deployments), "models", cfg.Aliases())
	if demo != nil {
		demo.banner(opts.Stdout, addr)
	}

	if cfg.Server.DebugListen != "" {
		stopDebug, err := serveDebug(cfg.Server.DebugListen, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	// SIGHUP is caught before Ready is announced: a SIGHUP that arrived
	// in between would otherwise kill the process with the default action.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if opts.Ready != nil {
		opts.Ready <- addr
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := gw.Reload(load); err != nil {
					log.Error("config reload failed; still serving the previous config", "error", err)
				} else {
					log.Info("config reloaded")
				}
			}
		}
	}()

	err = server.Serve(ctx, ln, gw.Handler(), server.ServeOptions{
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		DrainTimeout:      cfg.Server.DrainTimeout,
		Logger:            log,
	})
	log.Info("switchyard stopped")
	return err
}

// Gateway is a built, running gateway: everything but the listener.
type Gateway struct {
	cfg     *config.Config
	log     *slog.Logger
	gw      *gateway.Gateway
	store   store.Store
	keys    *auth.KeyCache
	handler http.Handler
	client  *http.Client

	mu      sync.Mutex // serialises reloads
	closers []func() error
	probes  prober

	gov       *govern.Governance // set by buildGovernance
	guard     *guard.Guard       // set by buildGuardrails
	approvals *approval.Service  // set by buildGuardrails
}

// Build constructs the gateway from cfg and starts its background work
// (the key cache's change feed); Close stops it.
func Build(ctx context.Context, cfg *config.Config, log *slog.Logger) (_ *Gateway, err error) {
	g := &Gateway{cfg: cfg, log: log, client: upstreamClient()}
	defer func() {
		if err != nil {
			g.Close()
		}
	}()
	rt, err := buildRouter(cfg, g.client, log, g.routeCost, nil)
	if err != nil {
		return nil, err
	}
	g.probes.restart(rt, cfg.Health.ProbeInterval)
	g.closers = append(g.closers, g.probes.stop)
	if err := ensureSQLiteDir(cfg.Store.DSN); err != nil {
		return nil, err
	}
	g.store, err = store.Open(ctx, cfg.Store.DSN)
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, g.store.Close)
	if err := bootstrapKeys(ctx, g.store, cfg.Keys); err != nil {
		return nil, err
	}
	g.keys = auth.NewKeyCache(g.store, auth.Options{FailOpen: cfg.StoreFailOpen(), Logger: log})
	if err := g.keys.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("loading keys: %w", err)
	}
	g.closers = append(g.closers, func() error { g.keys.Stop(); return nil })
	admission, accounting, err := buildGovernance(ctx, g)
	if err != nil {
		return nil, err
	}
	guards, mcp, err := buildGuardrails(ctx, g)
	if err != nil {
		return nil, err
	}
	tracing, err := telemetry.NewTracing(ctx, cfg.Telemetry.Tracing)
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return tracing.Shutdown(sctx)
	})
	mopts := cfg.Telemetry.Metrics
	mopts.Router = func() *route.Router { return g.gw.Router() }
	mopts.Cost = g.gov.CostUSD
	metrics := telemetry.NewMetrics(mopts)
	registerWriterMetrics(metrics.Registry(), g.gov)
	registerCounterMetrics(metrics.Registry(), g.gov)
	// Tracing first, so its span covers every other stage; metrics last, so
	// its stream wrapper is outermost and times the chunk the client gets.
	stages := []gateway.Stage{tracing.Stage()}
	stages = append(stages, admission...)
	stages = append(stages, guards...)
	stages = append(stages, accounting...)
	stages = append(stages, metrics.Stage())
	g.gw = gateway.New(gateway.Options{
		Router:         rt,
		AttemptTimeout: cfg.Server.UpstreamTimeout,
		Stages:         stages,
		Logger:         log,
	})
	oa := openaiapi.New(g.gw, openaiapi.Options{MaxBodyBytes: cfg.Server.MaxBodyBytes, Logger: log})
	an := anthropicapi.New(g.gw, anthropicapi.Options{MaxBodyBytes: cfg.Server.MaxBodyBytes})
	g.handler = telemetry.TraceMiddleware(tracing.TracerProvider(), server.Handler(server.Routes{
		OpenAI:         oa,
		OpenAIError:    openaiapi.WriteError,
		Anthropic:      an,
		AnthropicError: anthropicapi.WriteError,
		Auth:           keyAuth{g.keys},
		MCP:            mcp,
		Ready:          g.ready,
		Metrics:        metrics.Handler(),
		Admin:          buildAdmin(g),
	}, log))
	return g, nil
}

// Handler is the gateway's HTTP surface.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Core returns the request pipeline.
func (g *Gateway) Core() *gateway.Gateway { return g.gw }

// Close releases what Build opened.
func (g *Gateway) Close() error {
	var errs []error
	for i := len(g.closers) - 1; i >= 0; i-- {
		errs = append(errs, g.closers[i]())
	}
	g.client.CloseIdleConnections()
	return errors.Join(errs...)
}

// Reload re-reads the config and swaps in new deployments, pools, keys
// and policy rules. Requests in flight finish on what they started with.
// Listener, store, DLP, budget and telemetry settings need a restart.
func (g *Gateway) Reload(load func() (*config.Config, error)) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	cfg, err := load()
	if err != nil {
		return err
	}
	rt, err := buildRouter(cfg, g.client, g.log, g.routeCost, g.gw.Router())
	if err != nil {
		return err
	}
	if err := bootstrapKeys(context.Background(), g.store, cfg.Keys); err != nil {
		return err
	}
	g.gw.SetRouter(rt)
	g.probes.restart(rt, cfg.Health.ProbeInterval)
	if g.guard != nil {
		// Approvals already granted under the old rules no longer apply:
		// they are bound to the policy version.
		g.guard.SetPolicy(cfg.Guardrails.PolicyEngine())
	}
	g.cfg = cfg
	return nil
}

func (g *Gateway) ready(ctx context.Context) map[string]string {
	problems := map[string]string{}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := g.store.Ping(pctx); err != nil {
		problems["store"] = "unreachable: " + err.Error()
	}
	if g.keys.Degraded() {
		problems["keys"] = "serving cached keys: the key store is unreachable"
	}
	for k, v := range g.gov.Problems() {
		problems[k] = v
	}
	rt := g.gw.Router()
	healthy := map[string]bool{}
	for _, st := range rt.Status() {
		if st.Healthy {
			healthy[st.Name] = true
		}
	}
	for _, alias := range rt.Aliases() {
		ok := false
		for _, d := range rt.Pool(alias) {
			if healthy[d.Name] {
				ok = true
				break
			}
		}
		if !ok {
			problems["model:"+alias] = "no healthy deployment"
		}
	}
	return problems
}

// buildRouter makes one adapter per deployment and the router over them;
// with a previous router (a reload), unchanged deployments keep their
// health, breaker and latency state.
func buildRouter(cfg *config.Config, client *http.Client, log *slog.Logger, cost route.CostFunc, previous *route.Router) (*route.Router, error) {
	deps := make([]*route.Deployment, 0, len(cfg.Deployments))
	for i := range cfg.Deployments {
		d := &cfg.Deployments[i]
		f, _ := provider.Lookup(d.Provider) // config validation checked it
		p, err := f.New(provider.Config{
			Deployment: provider.Deployment{Name: d.Name, Model: d.Model, Region: d.Region, ModelVersion: d.ModelVersion},
			Options:    d.ProviderOptions(),
			HTTPClient: client,
			Logger:     log.With("deployment", d.Name),
		})
		if err != nil {
			return nil, fmt.Errorf("deployment %s: %w", d.Name, err)
		}
		deps = append(deps, &route.Deployment{
			Name: d.Name, Provider: d.Provider, Model: d.Model, Region: d.Region, ModelVersion: d.ModelVersion,
			Backend: p, Priority: d.Priority, Weight: d.Weight, Price: d.Price, Reserved: d.Reserved,
			Quota: d.Quota, Caps: d.Capabilities, ZDR: d.ZDR,
		})
	}
	return route.New(deps, cfg.Models, route.Options{Previous: previous, CostFunc: cost})
}

// routeCost prices a request on a deployment for the cost strategy with
// the governance's price catalog and commitments; the router is built
// before the governance, which exists by the time a request is routed.
func (g *Gateway) routeCost(d *route.Deployment, in, out int) float64 {
	if g.gov == nil {
		return 0
	}
	return g.gov.RouteCost(d, in, out)
}

// tuneGC trades memory for CPU unless the operator set GOGC: a gateway's
// heap is small and short-lived garbage (one request's JSON) dominates, so
// the default GOGC=100 collects far more often than needed and the
// collector competes with requests for CPU.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
}

// upstreamClient is shared by every adapter: one pool of keep-alive
// connections per upstream host, sized for a busy gateway.
func upstreamClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 0 // attempts carry their own deadlines
	return &http.Client{Transport: t}
}

// demoRun is the embedded default's state: the simulated clouds and the
// demo key printed at start.
type demoRun struct {
	key string
}

func (d *demoRun) banner(w io.Writer, addr string) {
	fmt.Fprintf(w, `
Switchyard is running on simulated clouds (no real provider is called).

  Demo key:  %s

  Try it:
    curl -s http://%s/v1/chat/completions \
      -H "Authorization: Bearer %s" \
      -H "Content-Type: application/json" \
      -d '{"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}]}'

`, d.key, addr, d.key)
}

// configLoader returns how to (re)load the config. With no path, it starts
// the simulated clouds and loads the embedded default against them.
func configLoader(opts ServeOptions) (load func() (*config.Config, error), demo *demoRun, closeFn func(), err error) {
	if opts.ConfigPath != "" {
		return func() (*config.Config, error) { return config.Load(opts.ConfigPath) }, nil, func() {}, nil
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("data folder: %w", err)
	}
	abs, _ := filepath.Abs(opts.DataDir)
	key, err := demoKey(abs)
	if err != nil {
		return nil, nil, nil, err
	}
	sims, err := fleet.Start(fleet.Options{DataDir: abs})
	if err != nil {
		return nil, nil, nil, err
	}
	env := sims.Env()
	env["SWITCHYARD_DATA_DIR"] = abs
	env["SWITCHYARD_DEMO_KEY"] = key
	lookup := func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		return os.LookupEnv(name)
	}
	load = func() (*config.Config, error) {
		return config.Parse(demoConfig, config.ParseOptions{LookupEnv: lookup})
	}
	return load, &demoRun{key: key}, func() { _ = sims.Close() }, nil
}

// demoKey returns the demo key kept in the data folder, making one on
// first start, so that the printed curl line keeps working across restarts.
func demoKey(dir string) (string, error) {
	path := filepath.Join(dir, "demo-key")
	if b, err := os.ReadFile(path); err == nil && len(b) == len(auth.GenerateKey().Secret) {
		return string(b), nil
	}
	key := auth.GenerateKey().Secret
	if err := os.WriteFile(path, []byte(key), 0o600); err != nil {
		return "", fmt.Errorf("writing the demo key: %w", err)
	}
	return key, nil
}

// ensureSQLiteDir creates the folder of a SQLite database file.
func ensureSQLiteDir(dsn string) error {
	path, ok := strings.CutPrefix(dsn, "sqlite://")
	if !ok {
		return nil
	}
	if dir := filepath.Dir(path); dir != "." {
		return os.MkdirAll(dir, 0o700)
	}
	return nil
}
