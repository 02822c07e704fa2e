// Package sim is the shared engine of Switchyard's simulated clouds.
//
// Each cloud's fake (internal/sim/<cloud>) speaks that cloud's wire format
// and delegates the cloud-neutral parts here: what the model answers (a
// Script), what goes wrong (Faults), and what the fake received (a
// Recorder that tests read to prove what a provider did and did not see).
package sim

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Engine holds one fake's script, faults and record. It is safe for
// concurrent use; Script and Faults may be replaced while serving.
type Engine struct {
	// Name identifies the fake in replies and logs, e.g. "openai".
	Name string

	script atomic.Pointer[Script]
	faults atomic.Pointer[Faults]
	rec    Recorder

	// served counts admitted requests, for TruncateAfter and error rates.
	served atomic.Int64
	// aborted counts streams the client abandoned mid-way.
	aborted atomic.Int64
	rngMu   sync.Mutex
	rng     *rand.Rand // guarded by rngMu
}

// NewEngine returns an engine with the default script and no faults.
func NewEngine(name string) *Engine {
	e := &Engine{Name: name, rng: rand.New(rand.NewPCG(1, 2))}
	e.script.Store(&Script{})
	e.faults.Store(&Faults{})
	e.rec.limit = 1000
	return e
}

// SetScript replaces the script.
func (e *Engine) SetScript(s *Script) {
	if s == nil {
		s = &Script{}
	}
	e.script.Store(s)
}

// Script returns the current script.
func (e *Engine) Script() *Script { return e.script.Load() }

// SetFaults replaces the faults; nil clears them.
func (e *Engine) SetFaults(f *Faults) {
	if f == nil {
		f = &Faults{}
	}
	e.faults.Store(f)
}

// Faults returns the current faults.
func (e *Engine) Faults() Faults { return *e.faults.Load() }

// Recorder returns the record of received requests.
func (e *Engine) Recorder() *Recorder { return &e.rec }

// Fault is an error a fake must answer with, in its own wire shape.
type Fault struct {
	Status     int
	RetryAfter time.Duration
	Message    string
}

// ReadBody reads and records the request body, then applies the faults
// that precede an answer: latency, outage and injected errors. It returns
// the body, and a non-nil Fault when the fake must answer with an error.
// A nil body with a nil Fault means the client went away while waiting.
func (e *Engine) ReadBody(r *http.Request) ([]byte, *Fault) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return nil, &Fault{Status: http.StatusBadRequest, Message: "could not read request body"}
	}
	e.rec.add(r, body)
	f := e.faults.Load()
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return nil, nil
		}
	}
	n := e.served.Add(1)
	if f.down(time.Now()) {
		return body, &Fault{Status: http.StatusServiceUnavailable, Message: "The service is temporarily unavailable (simulated outage)."}
	}
	if f.ErrorRate > 0 && f.ErrorStatus != 0 && e.roll() < f.ErrorRate {
		return body, &Fault{Status: f.ErrorStatus, RetryAfter: f.RetryAfter, Message: faultMessage(f.ErrorStatus)}
	}
	if f.FailEvery > 0 && n%int64(f.FailEvery) == 0 && f.ErrorStatus != 0 {
		return body, &Fault{Status: f.ErrorStatus, RetryAfter: f.RetryAfter, Message: faultMessage(f.ErrorStatus)}
	}
	return body, nil
}

func (e *Engine) roll() float64 {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return e.rng.Float64()
}

func faultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Rate limit reached for requests (simulated). Please retry after the time in the retry-after header."
	case http.StatusServiceUnavailable:
		return "The server is overloaded (simulated). Please retry later."
	default:
		return "The server had an error while processing your request (simulated)."
	}
}

// Faults is what a fake does wrong. The zero value is a healthy fake.
type Faults struct {
	// Latency is added before the answer (before the first byte of a stream).
	Latency time.Duration `json:"latency,omitempty"`
	// ChunkDelay is added between stream chunks (a slow stream).
	ChunkDelay time.Duration `json:"chunk_delay,omitempty"`
	// ErrorRate is the share of requests, 0 to 1, answered with ErrorStatus.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// FailEvery answers every n-th request with ErrorStatus (deterministic).
	FailEvery int `json:"fail_every,omitempty"`
	// ErrorStatus is the status of injected errors: 429, 500, 503, ...
	ErrorStatus int `json:"error_status,omitempty"`
	// RetryAfter is sent with injected 429 and 503 answers.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Down answers every request with 503 while true.
	Down bool `json:"down,omitempty"`
	// DownFrom and DownUntil bound an outage window; zero means open-ended.
	DownFrom  time.Time `json:"down_from,omitzero"`
	DownUntil time.Time `json:"down_until,omitzero"`
	// TruncateAfter cuts every stream after this many content chunks,
	// closing the connection without the stream's proper end.
	TruncateAfter int `json:"truncate_after,omitempty"`
}

func (f *Faults) down(now time.Time) bool {
	if f.Down {
		return true
	}
	if f.DownFrom.IsZero() && f.DownUntil.IsZero() {
		return false
	}
	return (f.DownFrom.IsZero() || !now.Before(f.DownFrom)) && (f.DownUntil.IsZero() || now.Before(f.DownUntil))
}

// Pace waits the configured delay between stream chunks and reports
// whether the stream may go on: false once the client has gone or the
// stream must be truncated after sent chunks.
func (e *Engine) Pace(r *http.Request, sent int) bool {
	f := e.faults.Load()
	if f.TruncateAfter > 0 && sent >= f.TruncateAfter {
		return false
	}
	if f.ChunkDelay > 0 {
		t := time.NewTimer(f.ChunkDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			e.aborted.Add(1)
			return false
		}
	}
	if r.Context().Err() != nil {
		e.aborted.Add(1)
		return false
	}
	return true
}

// Aborted returns how many streams ended because the client went away:
// a gateway that cancels upstream when its own client disconnects makes
// this count go up.
func (e *Engine) Aborted() int64 { return e.aborted.Load() }

// Truncated reports whether streams are being cut short, so a fake knows
// to omit its end-of-stream marker.
func (e *Engine) Truncated(sent int) bool {
	f := e.faults.Load()
	return f.TruncateAfter > 0 && sent >= f.TruncateAfter
}

// Recorded is one request a fake received.
type Recorded struct {
	Time   time.Time
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// Recorder keeps the most recent requests a fake received.
type Recorder struct {
	mu    sync.Mutex
	reqs  []Recorded // guarded by mu
	total int64      // guarded by mu
	limit int
}

func (r *Recorder) add(req *http.Request, body []byte) {
	rec := Recorded{Time: time.Now(), Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Header: req.Header.Clone(), Body: bytes.Clone(body)}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.total++
	if r.limit > 0 && len(r.reqs) >= r.limit {
		copy(r.reqs, r.reqs[1:])
		r.reqs = r.reqs[:len(r.reqs)-1]
	}
	r.reqs = append(r.reqs, rec)
}

// Requests returns a copy of the recorded requests, oldest first.
func (r *Recorder) Requests() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Recorded(nil), r.reqs...)
}

// Count returns how many requests were received since the last Reset.
func (r *Recorder) Count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.total
}

// Reset forgets every recorded request.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs, r.total = nil, 0
}

// Contains reports whether any recorded body contains s.
func (r *Recorder) Contains(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, q := range r.reqs {
		if strings.Contains(string(q.Body), s) {
			return true
		}
	}
	return false
}
