package openai

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/api/apitest"
)

func TestStreamFlushesBeforeEveryWait(t *testing.T) {
	// The end of a stream has always arrived with its last chunk, so the
	// last chunk shares the [DONE] write: one flush per burst.
	wantFlushes := []int{4, 1, 2}
	for i, tt := range apitest.FlushCases {
		t.Run(tt.Name, func(t *testing.T) {
			rec := apitest.NewFlushRecorder()
			s := &apitest.ScriptedStream{T: t, Rec: rec, Arrived: tt.Arrived}
			h := New(apitest.StreamBackend{Stream: s}, Options{})
			req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
				strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if got := strings.Count(body, "data: {"); got != len(tt.Arrived) {
				t.Fatalf("%d chunks written, want %d:\n%s", got, len(tt.Arrived), body)
			}
			if !strings.HasSuffix(body, "data: [DONE]\n\n") || rec.Flushed != rec.Written {
				t.Fatalf("the stream did not end flushed with [DONE]:\n%s", body)
			}
			if rec.Flushes != wantFlushes[i] {
				t.Errorf("%d flushes, want %d", rec.Flushes, wantFlushes[i])
			}
		})
	}
}
