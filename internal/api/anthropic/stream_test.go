package anthropic_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/api/anthropic"
	"github.com/switchyard/switchyard/internal/api/apitest"
)

func TestStreamFlushesBeforeEveryWait(t *testing.T) {
	// Each burst of chunks leaves in one flush, whatever number of events
	// a chunk becomes; the end shares the last burst's.
	wantFlushes := []int{4, 1, 2}
	for i, tt := range apitest.FlushCases {
		t.Run(tt.Name, func(t *testing.T) {
			rec := apitest.NewFlushRecorder()
			s := &apitest.ScriptedStream{T: t, Rec: rec, Arrived: tt.Arrived}
			h := anthropic.New(apitest.StreamBackend{Stream: s}, anthropic.Options{})
			req := httptest.NewRequest(http.MethodPost, "/v1/messages",
				strings.NewReader(`{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if got := strings.Count(body, "event: content_block_delta"); got != len(tt.Arrived) {
				t.Fatalf("%d text deltas written, want %d:\n%s", got, len(tt.Arrived), body)
			}
			if !strings.Contains(body, "event: message_stop") || rec.Flushed != rec.Written {
				t.Fatalf("the stream did not end flushed with message_stop:\n%s", body)
			}
			if rec.Flushes != wantFlushes[i] {
				t.Errorf("%d flushes, want %d", rec.Flushes, wantFlushes[i])
			}
		})
	}
}
