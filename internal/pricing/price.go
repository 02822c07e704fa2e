package pricing

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/switchyard/switchyard/internal/llm"
)

// Price is what one deployment charges, in micro-USD per million tokens.
// Zero CachedInput or CacheWrite means the provider bills those tokens at
// the Input price (no caching discount or surcharge).
type Price struct {
	// Input is charged for prompt tokens neither read from nor written to
	// the provider's cache.
	Input int64 `yaml:"input"`
	// Output is charged for completion tokens, reasoning tokens included.
	Output int64 `yaml:"output"`
	// CachedInput is charged for prompt tokens served from the cache.
	CachedInput int64 `yaml:"cached_input"`
	// CacheWrite is charged for prompt tokens written to the cache.
	CacheWrite int64 `yaml:"cache_write"`
}

// priceYAML is Price as written in YAML: decimal dollars, parsed exactly.
type priceYAML struct {
	Input       string `yaml:"input"`
	Output      string `yaml:"output"`
	CachedInput string `yaml:"cached_input"`
	CacheWrite  string `yaml:"cache_write"`
}

// UnmarshalYAML reads dollar amounts per million tokens ("2.50") without
// passing through a float.
func (p *Price) UnmarshalYAML(n *yaml.Node) error {
	var raw priceYAML
	if err := n.Decode(&raw); err != nil {
		return err
	}
	v, err := raw.parse()
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*p = v
	return nil
}

func (raw priceYAML) parse() (Price, error) {
	var p Price
	fields := []struct {
		name string
		in   string
		out  *int64
		opt  bool
	}{
		{"input", raw.Input, &p.Input, false},
		{"output", raw.Output, &p.Output, true},
		{"cached_input", raw.CachedInput, &p.CachedInput, true},
		{"cache_write", raw.CacheWrite, &p.CacheWrite, true},
	}
	for _, f := range fields {
		if f.in == "" {
			if !f.opt {
				return Price{}, fmt.Errorf("price needs %s (USD per million tokens, e.g. 2.50)", f.name)
			}
			continue
		}
		v, err := ParseUSD(f.in)
		if err != nil {
			return Price{}, fmt.Errorf("%s: %w", f.name, err)
		}
		*f.out = v
	}
	return p, nil
}

// Tokens is usage split by how each token is billed. Input excludes cached
// and cache-write tokens.
type Tokens struct {
	Input       int64
	CachedInput int64
	CacheWrite  int64
	Output      int64
}

// TokensOf splits canonical usage for billing. Like OpenAI, llm.Usage
// counts cached and cache-write tokens inside PromptTokens, so they are
// subtracted to leave the tokens billed at the full input price.
func TokensOf(u *llm.Usage) Tokens {
	if u == nil {
		return Tokens{}
	}
	t := Tokens{Output: int64(max(u.CompletionTokens, 0))}
	if d := u.PromptTokensDetails; d != nil {
		t.CachedInput = int64(max(d.CachedTokens, 0))
		t.CacheWrite = int64(max(d.CacheCreationTokens, 0))
	}
	t.Input = max(int64(u.PromptTokens)-t.CachedInput-t.CacheWrite, 0)
	return t
}

// effective fills the prices a provider does not distinguish.
func (p Price) effective() Price {
	if p.CachedInput == 0 {
		p.CachedInput = p.Input
	}
	if p.CacheWrite == 0 {
		p.CacheWrite = p.Input
	}
	return p
}

// Cost is what u cost at price p, in micro-USD, rounded to the nearest
// micro-USD once over the whole request.
func Cost(u *llm.Usage, p Price) int64 { return CostOf(TokensOf(u), p) }

// CostOf is Cost for usage already split by billing class.
func CostOf(t Tokens, p Price) int64 {
	p = p.effective()
	// Products stay far below int64's range: 1e9 tokens at $1000/M is 1e18.
	sum := t.Input*p.Input + t.CachedInput*p.CachedInput + t.CacheWrite*p.CacheWrite + t.Output*p.Output
	return divRound(sum, tokensPerUnit)
}

// MaxCost is the most a request can cost before its usage is known, for a
// budget reservation: every prompt token at the dearest input rate (a
// cache write can cost more than plain input) and the full output allowance,
// rounded up so a reservation never undershoots.
func MaxCost(promptTokensEstimate, maxOutputTokens int, p Price) int64 {
	p = p.effective()
	in := max(p.Input, p.CachedInput, p.CacheWrite)
	sum := int64(max(promptTokensEstimate, 0))*in + int64(max(maxOutputTokens, 0))*p.Output
	return divCeil(sum, tokensPerUnit)
}
