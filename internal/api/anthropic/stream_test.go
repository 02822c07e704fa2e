package anthropic_test

import (
	"net/http"
	"testing"

	"github.com/switchyard/switchyard/internal/api/anthropic"
	"github.com/switchyard/switchyard/internal/api/apitest"
	"github.com/switchyard/switchyard/internal/llm"
)

// A chunk becomes up to three Anthropic events; they still leave in one
// flush per burst.
func TestStreamFlushesBeforeEveryWait(t *testing.T) {
	apitest.CheckFlushes(t,
		func(s llm.ChatStream) http.Handler {
			return anthropic.New(apitest.StreamBackend{Stream: s}, anthropic.Options{})
		},
		"/v1/messages", `{"model":"m","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"event: content_block_delta", "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
}
