package sim

import (
	"encoding/json"
	"net/http"
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
		var f Faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
