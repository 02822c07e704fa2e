package govern

import (
	"context"
	"strings"

	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// State keys this package keeps on a gateway.Call (see the package doc).
const (
	keyMeter       = "govern.meter"
	keyUsage       = "govern.usage"
	keyCost        = "govern.cost"
	keyRateLimit   = "govern.ratelimit"
	keyReservation = "govern.reservation"
	// KeyPolicyDecisions is where the policy stage leaves its decisions
	// (any JSON-encodable value) for the audit record.
	KeyPolicyDecisions = "policy.decisions"
)

// maxMeteredText bounds the answer text kept per call for counting; past
// it only the byte count grows and the rest is counted at the rate of the
// kept part.
const maxMeteredText = 64 << 10

// meter keeps what an answer carried, in case its usage never arrives.
type meter struct {
	text     strings.Builder
	extra    int // bytes beyond maxMeteredText
	sawUsage bool
	chunks   int
}

func (m *meter) add(s string) {
	if s == "" || m.sawUsage {
		return
	}
	if room := maxMeteredText - m.text.Len(); room > 0 {
		if len(s) > room {
			m.extra += len(s) - room
			s = s[:room]
		}
		m.text.WriteString(s)
		return
	}
	m.extra += len(s)
}

func (m *meter) addDelta(d *llm.Delta) {
	if d.Content != nil {
		m.add(*d.Content)
	}
	if d.Refusal != nil {
		m.add(*d.Refusal)
	}
	m.add(d.ReasoningContent)
	for _, tc := range d.ToolCalls {
		m.add(tc.Function.Name)
		m.add(tc.Function.Arguments)
	}
}

// Meter is the accounting stage that watches answers so that usage can be
// estimated when the provider reports none: a stream cut short, a client
// that went away, a backend that sends no usage. It keeps the text only
// until a usage chunk shows up. Put it before the other accounting stages.
type Meter struct {
	tok *Tokenizer
}

// NewMeter returns the Meter stage counting with tok.
func NewMeter(tok *Tokenizer) *Meter { return &Meter{tok: tok} }

// Name implements gateway.Stage.
func (*Meter) Name() string { return "meter" }

// Answer keeps a complete answer's text when it came without usage.
func (*Meter) Answer(_ context.Context, c *gateway.Call, resp *llm.ChatResponse) error {
	if resp.Usage != nil {
		return nil
	}
	m := &meter{}
	for _, ch := range resp.Choices {
		m.add(ch.Message.Content.Text)
		for _, p := range ch.Message.Content.Parts {
			m.add(p.Text)
		}
		m.add(ch.Message.ReasoningContent)
		for _, tc := range ch.Message.ToolCalls {
			m.add(tc.Function.Name)
			m.add(tc.Function.Arguments)
		}
	}
	c.Set(keyMeter, m)
	return nil
}

// Stream wraps s to keep its text until a usage chunk arrives.
func (*Meter) Stream(_ context.Context, c *gateway.Call, s llm.ChatStream) llm.ChatStream {
	m := &meter{}
	c.Set(keyMeter, m)
	return &meteredStream{ChatStream: s, m: m}
}

type meteredStream struct {
	llm.ChatStream
	m *meter
}

// Ready implements llm.ReadyStream.
func (s *meteredStream) Ready() bool { return llm.Ready(s.ChatStream) }

func (s *meteredStream) Next() (*llm.ChatChunk, error) {
	c, err := s.ChatStream.Next()
	if err != nil {
		return c, err
	}
	s.m.chunks++
	if c.Usage != nil {
		s.m.sawUsage = true
		s.m.text.Reset()
		s.m.extra = 0
	}
	for i := range c.Choices {
		s.m.addDelta(&c.Choices[i].Delta)
	}
	return c, nil
}

// Usage is a call's token usage and whether the gateway estimated it.
type Usage struct {
	llm.Usage
	// Estimated is true when the provider reported nothing and the
	// gateway counted the tokens itself.
	Estimated bool
}

// UsageOf returns c's usage: as reported, or estimated with tok from the
// request and the text the Meter saw. A call that never reached a
// provider, or failed without an answer, used nothing.
func UsageOf(c *gateway.Call, tok *Tokenizer) Usage {
	if u, ok := c.Get(keyUsage).(*Usage); ok {
		return *u
	}
	u := &Usage{}
	switch m, _ := c.Get(keyMeter).(*meter); {
	case c.Usage != nil:
		u.Usage = *c.Usage
		u.Estimated = c.Usage.Estimated
	case m != nil && c.Deployment != nil:
		u.PromptTokens = tok.PromptTokens(c.Chat)
		text := m.text.String()
		n := tok.Count(text)
		if m.extra > 0 && len(text) > 0 {
			n += int(int64(n) * int64(m.extra) / int64(len(text)))
		}
		u.CompletionTokens = n
		u.TotalTokens = u.PromptTokens + n
		u.Estimated = true
	}
	c.Set(keyUsage, u)
	return *u
}
