package openai

import (
	"net/http"
	"testing"

	"github.com/switchyard/switchyard/internal/api/apitest"
	"github.com/switchyard/switchyard/internal/llm"
)

func TestStreamFlushesBeforeEveryWait(t *testing.T) {
	apitest.CheckFlushes(t,
		func(s llm.ChatStream) http.Handler { return New(apitest.StreamBackend{Stream: s}, Options{}) },
		"/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"data: {", "data: [DONE]\n\n")
}
