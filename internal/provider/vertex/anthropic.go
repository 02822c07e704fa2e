package vertex

import (
	"context"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
)

// claude serves Anthropic's models on Vertex AI (publisher "anthropic").
type claude struct {
	*base
}

var _ provider.Provider = (*claude)(nil)

func newClaude(b *base) *claude { return &claude{base: b} }

func (c *claude) unavailable() error {
	return llm.BadRequest("model", "publisher anthropic not available in this build (Vertex AI deployment %q); use a publisher google deployment or the anthropic provider", c.deployment.Name)
}

// ChatCompletion would send a rawPredict request.
func (c *claude) ChatCompletion(ctx context.Context, req *llm.ChatRequest) (*llm.ChatResponse, error) {
	return nil, c.unavailable()
}

// StreamChatCompletion would send a streamRawPredict request.
func (c *claude) StreamChatCompletion(ctx context.Context, req *llm.ChatRequest) (llm.ChatStream, error) {
	return nil, c.unavailable()
}
