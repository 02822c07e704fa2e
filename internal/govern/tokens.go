package govern

import (
	"log/slog"
	"sync"

	"github.com/pkoukk/tiktoken-go"
	loader "github.com/pkoukk/tiktoken-go-loader"

	"github.com/switchyard/switchyard/internal/llm"
)

// TokenEncoding is the BPE vocabulary estimates are counted with: GPT-4o's.
// Other families tokenize differently, so for them the count is an
// estimate of the right order, which is all an estimate promises.
const TokenEncoding = "o200k_base"

// Tokenizer counts tokens with a real BPE tokenizer whose vocabulary is
// embedded in the binary (no download). It loads lazily, once; should
// loading fail, it falls back to four bytes per token and says so once.
type Tokenizer struct {
	once sync.Once
	enc  *tiktoken.Tiktoken
	log  *slog.Logger
}

// NewTokenizer returns a Tokenizer; nil log discards its one warning.
func NewTokenizer(log *slog.Logger) *Tokenizer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Tokenizer{log: log}
}

var setLoader sync.Once

func (t *Tokenizer) load() {
	t.once.Do(func() {
		setLoader.Do(func() { tiktoken.SetBpeLoader(loader.NewOfflineLoader()) })
		enc, err := tiktoken.GetEncoding(TokenEncoding)
		if err != nil {
			t.log.Warn("govern: tokenizer unavailable; estimating four bytes per token", "encoding", TokenEncoding, "err", err)
			return
		}
		t.enc = enc
	})
}

// Warm loads the vocabulary now, so the first estimate does not pay for it.
func (t *Tokenizer) Warm() { t.load() }

// Count returns the number of tokens in s.
func (t *Tokenizer) Count(s string) int {
	if s == "" {
		return 0
	}
	t.load()
	if t.enc == nil {
		return (len(s) + 3) / 4
	}
	return len(t.enc.EncodeOrdinary(s))
}

// Per-message framing, as OpenAI counts it for chat models: each message
// costs a few tokens beyond its text, and the reply is primed with three.
const (
	tokensPerMessage = 3
	tokensPerReply   = 3
)

// PromptTokens counts the tokens of a chat request's messages and tool
// definitions. Images are not counted (their price depends on the
// provider's tiling); the estimate is low for vision requests.
func (t *Tokenizer) PromptTokens(req *llm.ChatRequest) int {
	if req == nil {
		return 0
	}
	n := tokensPerReply
	for _, m := range req.Messages {
		n += tokensPerMessage + t.Count(m.Role) + t.Count(m.Content.Text) + t.Count(m.Name)
		for _, p := range m.Content.Parts {
			n += t.Count(p.Text)
		}
		for _, tc := range m.ToolCalls {
			n += t.Count(tc.Function.Name) + t.Count(tc.Function.Arguments)
		}
	}
	for _, tool := range req.Tools {
		n += t.Count(tool.Function.Name) + t.Count(tool.Function.Description) + len(tool.Function.Parameters)/4
	}
	return n
}
