package route

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a Clock whose time moves only when told to. After advances
// the clock by d and fires at once, so backoff waits cost no real time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// lockedSource is a seeded rand.Source safe for concurrent use.
type lockedSource struct {
	mu  sync.Mutex
	src *rand.PCG
}

func newSource(seed uint64) *lockedSource {
	return &lockedSource{src: rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)}
}

func (s *lockedSource) Uint64() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src.Uint64()
}

// behaviour simulates one deployment: the nth attempt on it (from 0)
// takes latency of simulated time and returns err.
type behaviour func(n int) (latency time.Duration, err error)

func healthy(lat time.Duration) behaviour {
	return func(int) (time.Duration, error) { return lat, nil }
}

func down() behaviour {
	return func(int) (time.Duration, error) { return 5 * time.Millisecond, unavailable() }
}

func unavailable() error {
	return &llm.Error{Status: http.StatusServiceUnavailable, Type: llm.TypeOverloaded, Upstream: true, Message: "the deployment is overloaded"}
}

func throttled(retryAfter time.Duration) error {
	return &llm.Error{Status: http.StatusTooManyRequests, Type: llm.TypeRateLimit, Upstream: true, Message: "rate limited", RetryAfter: retryAfter}
}

// fleet runs simulated deployments behind a fake clock and counts what
// reached each one.
type fleet struct {
	clk *fakeClock

	mu       sync.Mutex
	behave   map[string]behaviour
	attempts map[string]int
	answered map[string]int
	// seen records the breaker state each attempt found, per deployment.
	seen map[string][]BreakerState
}

func newFleet(clk *fakeClock, behave map[string]behaviour) *fleet {
	return &fleet{clk: clk, behave: behave, attempts: map[string]int{}, answered: map[string]int{}, seen: map[string][]BreakerState{}}
}

func (f *fleet) set(name string, b behaviour) {
	f.mu.Lock()
	f.behave[name] = b
	f.mu.Unlock()
}

func (f *fleet) attempt(ctx context.Context, d *Deployment) error {
	f.mu.Lock()
	n := f.attempts[d.Name]
	f.attempts[d.Name]++
	f.seen[d.Name] = append(f.seen[d.Name], d.st.brk.State())
	b := f.behave[d.Name]
	f.mu.Unlock()
	lat, err := b(n)
	f.clk.Advance(lat)
	if err == nil {
		f.mu.Lock()
		f.answered[d.Name]++
		f.mu.Unlock()
	}
	return err
}

func (f *fleet) count(m map[string]int, name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[name]
}

// events collects breaker transitions.
type events struct {
	mu  sync.Mutex
	all []BreakerEvent
}

func (e *events) record(ev BreakerEvent) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) list(name string) []BreakerEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []BreakerEvent
	for _, ev := range e.all {
		if ev.Deployment == name {
			out = append(out, ev)
		}
	}
	return out
}

func (e *events) count(name string, to BreakerState) int {
	n := 0
	for _, ev := range e.list(name) {
		if ev.To == to {
			n++
		}
	}
	return n
}

func mustRouter(t testing.TB, deps []*Deployment, pools []PoolConfig, opts Options) *Router {
	t.Helper()
	r, err := New(deps, pools, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// asLLM returns err as an *llm.Error or fails the test.
func asLLM(t *testing.T, err error) *llm.Error {
	t.Helper()
	var le *llm.Error
	if !errors.As(err, &le) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	return le
}

func names(ds []*Deployment) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	return out
}
