// Package bedrocksim is a fake of AWS Bedrock Runtime (Converse,
// ConverseStream and InvokeModel for embedding models), faithful enough
// for the official AWS SDK: it verifies SigV4 signatures by recomputing
// them with the SDK's signer, writes ConverseStream answers as binary
// event-stream frames with the SDK's encoder, and answers errors with
// x-amzn-ErrorType and {"message"}. A sim.Engine supplies the replies,
// the faults and the record.
package bedrocksim

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
)

// Options configure the fake.
type Options struct {
	// AccessKeyID and SecretAccessKey are the only key pair whose SigV4
	// signatures are accepted.
	AccessKeyID     string
	SecretAccessKey string
	// Region is the region signatures must be scoped to; empty accepts any.
	Region string
	// APIKeys are the Bedrock API keys accepted as "Authorization: Bearer";
	// empty refuses bearer authentication.
	APIKeys []string
}

type server struct {
	eng  *sim.Engine
	opts Options
	seq  atomic.Int64 // numbers request ids, tool-use ids
	now  func() time.Time
}

// New returns the fake's handler: POST /model/{modelId}/converse,
// /converse-stream and /invoke, and the engine's admin API at /_sim/.
func New(eng *sim.Engine, opts Options) http.Handler {
	s := &server{eng: eng, opts: opts, now: time.Now}
	mux := http.NewServeMux()
	mux.Handle("/_sim/", eng.AdminHandler())
	mux.HandleFunc("POST /model/{modelId}/converse", s.authed(s.converse))
	mux.HandleFunc("POST /model/{modelId}/converse-stream", s.authed(s.converseStream))
	mux.HandleFunc("POST /model/{modelId}/invoke", s.authed(s.invoke))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "UnknownOperationException", fmt.Sprintf("Unknown operation %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// authed checks the signature or API key over the whole body before the
// handler runs, as Bedrock does, then hands the body to the engine.
func (s *server) authed(next func(http.ResponseWriter, *http.Request, []byte, int64)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := s.seq.Add(1)
		w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("00000000-0000-4000-8000-%012x", n))
		raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			validation(w, "could not read request body")
			return
		}
		if ae := s.authenticate(r, raw); ae != nil {
			writeError(w, ae.status, ae.name, ae.message)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
		body, fault := s.eng.ReadBody(r)
		if fault != nil {
			writeFault(w, fault)
			return
		}
		if body == nil {
			return // the client went away during injected latency
		}
		next(w, r, body, n)
	}
}

func (s *server) authenticate(r *http.Request, body []byte) *authError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return &authError{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	if key, ok := strings.CutPrefix(h, "Bearer "); ok {
		for _, k := range s.opts.APIKeys {
			if subtle.ConstantTimeCompare([]byte(k), []byte(strings.TrimSpace(key))) == 1 {
				return nil
			}
		}
		return &authError{http.StatusForbidden, "UnrecognizedClientException", msgBadToken}
	}
	return s.verifySigV4(r, body, s.now())
}
