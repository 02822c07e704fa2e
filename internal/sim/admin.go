package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// AdminHandler serves the fake's control API, mounted at /_sim/ by every
// fake: GET or PUT /_sim/faults, PUT /_sim/script, GET /_sim/requests,
// DELETE /_sim/requests. It lets a person or a test script a running
// `switchyard sim` with curl.
func (e *Engine) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, e.Faults())
	})
	mux.HandleFunc("PUT /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		f, err := decodeFaults(r.Body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "faults: " + err.Error()})
			return
		}
		e.SetFaults(&f)
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("PUT /_sim/script", func(w http.ResponseWriter, r *http.Request) {
		var s Script
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "script: " + err.Error()})
			return
		}
		e.SetScript(&s)
		writeJSON(w, http.StatusOK, s)
	})
	mux.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		type rec struct {
			Method string          `json:"method"`
			Path   string          `json:"path"`
			Query  string          `json:"query,omitempty"`
			Body   json.RawMessage `json:"body,omitempty"`
		}
		reqs := e.rec.Requests()
		out := make([]rec, 0, len(reqs))
		for _, q := range reqs {
			body := json.RawMessage(q.Body)
			if !json.Valid(body) {
				body, _ = json.Marshal(string(q.Body))
			}
			out = append(out, rec{q.Method, q.Path, q.Query, body})
		}
		writeJSON(w, http.StatusOK, map[string]any{"count": e.rec.Count(), "requests": out})
	})
	mux.HandleFunc("DELETE /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		e.rec.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// decodeFaults reads Faults with durations written the way people write
// them ("250ms", "2s") as well as in nanoseconds.
func decodeFaults(r io.Reader) (Faults, error) {
	var raw struct {
		Faults
		Latency    json.RawMessage `json:"latency"`
		ChunkDelay json.RawMessage `json:"chunk_delay"`
		RetryAfter json.RawMessage `json:"retry_after"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return Faults{}, err
	}
	f := raw.Faults
	for _, d := range []struct {
		name string
		raw  json.RawMessage
		dst  *time.Duration
	}{{"latency", raw.Latency, &f.Latency}, {"chunk_delay", raw.ChunkDelay, &f.ChunkDelay}, {"retry_after", raw.RetryAfter, &f.RetryAfter}} {
		if len(d.raw) == 0 {
			continue
		}
		var s string
		if json.Unmarshal(d.raw, &s) == nil {
			v, err := time.ParseDuration(s)
			if err != nil {
				return Faults{}, fmt.Errorf("%s: %v", d.name, err)
			}
			*d.dst = v
			continue
		}
		var n int64
		if err := json.Unmarshal(d.raw, &n); err != nil {
			return Faults{}, fmt.Errorf("%s must be a duration such as \"250ms\" or nanoseconds", d.name)
		}
		*d.dst = time.Duration(n)
	}
	return f, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
