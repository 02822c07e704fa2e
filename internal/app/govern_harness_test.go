package app_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/auth"
	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/logging"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/fleet"
	"github.com/switchyard/switchyard/internal/store"
	"github.com/switchyard/switchyard/internal/store/storetest"
	"github.com/switchyard/switchyard/internal/testenv"
)

// Governance test keys: each has its own limits and budgets.
const (
	rlKey     = "sk-sy-ratelimited0123456789abcdefghijklmnopqrs"
	budgetKey = "sk-sy-budgeted0123456789abcdefghijklmnopqrstuv"
	plainKey  = "sk-sy-plainkey0123456789abcdefghijklmnopqrstuv"
)

// govSetup describes a governed gateway: its store, Redis and modes.
type govSetup struct {
	dsn           string // default: a fresh SQLite file
	redisURL      string // "" keeps counters in memory
	prefix        string
	storeFailOpen bool
	redisFailOpen bool
	keyFile       string // shared by replicas; default: a fresh key
	usage         string // the usage: section; default {flush_interval: 10ms}
	extra         string // more YAML
	// spillDir holds the writers' spill files; default a fresh folder.
	// With PostgreSQL the data folder is ./data, which every test in the
	// package would share: a test that leaves records there would have
	// the next gateway replay them into its own store.
	spillDir string
}

// govEnv is a governed gateway plus what tests need to inspect it.
type govEnv struct {
	*env
	cfg    *config.Config
	pub    ed25519.PublicKey
	closed sync.Once
}

// close closes the gateway once: its writers drain into the store.
func (e *govEnv) close() {
	e.closed.Do(func() {
		if err := e.gw.Close(); err != nil {
			e.t.Errorf("close: %v", err)
		}
	})
}

// newKeyFile writes a fresh Ed25519 seed and returns its path and public key.
func newKeyFile(t *testing.T) (string, ed25519.PublicKey) {
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	p := filepath.Join(t.TempDir(), "audit.key")
	if err := os.WriteFile(p, []byte(hex.EncodeToString(seed)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

func (s govSetup) yaml(f *fleet.Fleet) string {
	return fmt.Sprintf(`
server: {upstream_timeout: 2s}
store: {dsn: %q, fail_open: %v}
redis: {url: %q, fail_open: %v}
counters: {redis_prefix: %q}
audit: {signing_key_file: %q, checkpoint_every: 50}
usage: %s
budgets: {cache_ttl: 200ms}
keys:
  - {name: test, secret: %s}
deployments:
  - name: openai-us
    provider: openai
    model: gpt-4o-2024-08-06
    model_version: "2024-08-06"
    region: us-east-1
    price: {input: 2.5, output: 10}
    options: {base_url: %q, api_key: %q}
models:
  - {alias: gpt-4o, deployments: [openai-us]}
%s`, s.dsn, s.storeFailOpen, s.redisURL, s.redisFailOpen, s.prefix, s.keyFile, s.usage, testKey,
		f.Env()["SIM_OPENAI_URL"]+"/v1", f.Env()["SIM_OPENAI_KEY"], s.extra)
}

// startGov builds a gateway on s over fleet f (a fresh one when nil).
func startGov(t *testing.T, f *fleet.Fleet, s govSetup) *govEnv {
	t.Helper()
	if f == nil {
		f = newFleet(t)
	}
	if s.dsn == "" {
		s.dsn = storetest.SQLiteDSN(t)
	}
	if s.usage == "" {
		s.usage = "{flush_interval: 10ms}"
	}
	var pub ed25519.PublicKey
	if s.keyFile == "" {
		s.keyFile, pub = newKeyFile(t)
	}
	cfg, err := config.Parse([]byte(s.yaml(f)), config.ParseOptions{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if s.spillDir == "" {
		s.spillDir = t.TempDir()
	}
	if cfg.Usage.SpillPath == "" {
		cfg.Usage.SpillPath = filepath.Join(s.spillDir, config.DefaultUsageSpillFile)
	}
	if cfg.Audit.SpillPath == "" {
		cfg.Audit.SpillPath = filepath.Join(s.spillDir, config.DefaultAuditSpillFile)
	}
	logs := &syncBuffer{}
	gw, err := app.Build(context.Background(), cfg, logging.New(logs, "debug"))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ge := &govEnv{cfg: cfg, pub: pub}
	t.Cleanup(func() { ge.close() })
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	ge.env = &env{t: t, fleet: f, gw: gw, srv: srv, logs: logs}
	return ge
}

func newFleet(t *testing.T) *fleet.Fleet {
	f, err := fleet.Start(fleet.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	// Fixed usage makes costs exact: 10 prompt and 20 completion tokens
	// cost 10*2.5 + 20*10 = 225 micro-USD at the test price.
	f.Clouds["openai"].Engine.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "governed answer", PromptTokens: 10, CompletionTokens: 20}}}})
	return f
}

// callCost is what one scripted answer costs, in micro-USD.
const callCost = 225

// seedKey is a key to create before the gateway starts.
type seedKey struct {
	secret   string
	rpm, tpm int
}

// seedStore creates org o1, team t1, keys (in t1) and budgets in dsn and
// returns the key ids by secret.
func seedStore(t *testing.T, dsn string, keys []seedKey, budgets ...store.Budget) map[string]string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.CreateOrg(ctx, store.Org{ID: "o1", Name: "Org"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTeam(ctx, store.Team{ID: "t1", OrgID: "o1", Name: "Team"}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, k := range keys {
		got, err := st.CreateKey(ctx, store.Key{Name: k.secret[:14], Hash: auth.HashSecret(k.secret), Prefix: k.secret[:auth.DisplayPrefixLen],
			OrgID: "o1", TeamID: "t1", RPM: k.rpm, TPM: k.tpm})
		if err != nil {
			t.Fatal(err)
		}
		ids[k.secret] = got.ID
	}
	for _, b := range budgets {
		if _, err := st.CreateBudget(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// openStore opens dsn for inspection.
func openStore(t *testing.T, dsn string) store.Store {
	t.Helper()
	return storetest.Open(t, dsn)
}

// govChat is a small chat request asking for at most 50 tokens, so a
// reservation is 50*10 + the prompt estimate at 2.5.
const govChat = `{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"user","content":"hello there"}]}`

// proxy is a TCP proxy a test can cut: Down closes every connection and
// refuses new ones until Up.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Down()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// Down simulates an outage.
func (p *proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Up ends the outage.
func (p *proxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// redisURL returns the test Redis URL and a fresh key prefix (see
// testenv.RedisURL).
func redisURL(t *testing.T) (string, string) { return testenv.RedisURL(t) }

// withHost replaces the host:port of a URL.
func withHost(url, hostport string) string {
	i := strings.Index(url, "://")
	rest := url[i+3:]
	j := strings.IndexAny(rest, "/?")
	if j < 0 {
		j = len(rest)
	}
	at := strings.LastIndex(rest[:j], "@")
	return url[:i+3] + rest[:at+1] + hostport + rest[j:]
}

// hostOf returns a URL's host:port.
func hostOf(url string) string {
	rest := url[strings.Index(url, "://")+3:]
	if j := strings.IndexAny(rest, "/?"); j >= 0 {
		rest = rest[:j]
	}
	return rest[strings.LastIndex(rest, "@")+1:]
}
