package app

import (
	"context"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/route"
)

// prober runs the router's active health probes, restarting them on the
// new router after a reload.
type prober struct {
	mu     sync.Mutex
	cancel context.CancelFunc // guarded by mu; nil when not running
}

// restart probes rt's deployments every interval, stopping the probes of
// the previous router; a zero interval (or a nil router) only stops them.
func (p *prober) restart(rt *route.Router, interval time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
	if rt == nil || interval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	rt.StartProbes(ctx, interval, probeDeployment)
}

// stop ends the probes.
func (p *prober) stop() error {
	p.restart(nil, 0)
	return nil
}

// probeDeployment asks a deployment for the cheapest possible answer: one
// token of chat, or one embedding for embedding deployments.
func probeDeployment(ctx context.Context, d *route.Deployment) error {
	if d.Caps.Embeddings {
		if e, ok := d.Backend.(provider.Embedder); ok {
			_, err := e.Embeddings(ctx, &llm.EmbeddingRequest{Model: d.Name, Input: llm.TextInput("ping")})
			return err
		}
	}
	one := 1
	_, err := d.Backend.ChatCompletion(ctx, &llm.ChatRequest{
		Model:     d.Name,
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: llm.TextContent("ping")}},
		MaxTokens: &one,
	})
	return err
}
