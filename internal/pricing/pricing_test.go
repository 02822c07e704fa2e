package pricing

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestParseUSD(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "2.50", want: 2_500_000},
		{in: "0.075", want: 75_000},
		{in: "$15", want: 15_000_000},
		{in: ".5", want: 500_000},
		{in: "0.000001", want: 1},
		{in: "0.0000001", wantErr: "more than 6 decimal places"},
		{in: "-1", wantErr: "negative"},
		{in: "abc", wantErr: "not a decimal dollar amount"},
		{in: "", wantErr: "empty amount"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseUSD(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseUSD(%q) error = %v; want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseUSD(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormatUSD(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int64
		want string
	}{
		{2_500_000, "$2.50"}, {75_000, "$0.075"}, {1, "$0.000001"}, {0, "$0.00"}, {-1_230_000, "-$1.23"},
	}
	for _, tt := range tests {
		if got := FormatUSD(tt.in); got != tt.want {
			t.Errorf("FormatUSD(%d) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func usage(prompt, completion, cached, cacheWrite int) *llm.Usage {
	u := &llm.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
	if cached != 0 || cacheWrite != 0 {
		u.PromptTokensDetails = &llm.PromptTokensDetails{CachedTokens: cached, CacheCreationTokens: cacheWrite}
	}
	return u
}

func TestCost(t *testing.T) {
	t.Parallel()
	gpt4o := Price{Input: 2_500_000, CachedInput: 1_250_000, Output: 10_000_000}
	sonnet := Price{Input: 3_000_000, CachedInput: 300_000, CacheWrite: 3_750_000, Output: 15_000_000}
	tests := []struct {
		name  string
		usage *llm.Usage
		price Price
		want  int64
	}{
		{"nil usage", nil, gpt4o, 0},
		{"one million in and out", usage(1_000_000, 1_000_000, 0, 0), gpt4o, 12_500_000},
		// 1000*2.5 + 500*10 = 2500 + 5000 micro-USD.
		{"small request", usage(1000, 500, 0, 0), gpt4o, 7_500},
		// 600 uncached * 2.5 + 400 cached * 1.25 + 100 * 10 = 1500 + 500 + 1000.
		{"cached tokens at cached price", usage(1000, 100, 400, 0), gpt4o, 3_000},
		// 100*3 + 200*0.3 + 700*3.75 + 50*15 = 300 + 60 + 2625 + 750.
		{"cache writes at cache-write price", usage(1000, 50, 200, 700), sonnet, 3_735},
		// 1 token at $0.15/M = 0.15 micro-USD, rounds to 0; 4 tokens = 0.6 -> 1.
		{"rounds to nearest micro", usage(1, 0, 0, 0), Price{Input: 150_000}, 0},
		{"rounds half up", usage(4, 0, 0, 0), Price{Input: 150_000}, 1},
		{"cached price defaults to input", usage(1000, 0, 1000, 0), Price{Input: 2_000_000}, 2_000},
		{"inconsistent details never go negative", usage(10, 0, 50, 0), Price{Input: 1_000_000, CachedInput: 1_000_000}, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Cost(tt.usage, tt.price); got != tt.want {
				t.Fatalf("Cost = %d; want %d", got, tt.want)
			}
		})
	}
}

func TestMaxCost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		prompt, maxOut int
		price          Price
		want           int64
	}{
		{"plain", 1000, 500, Price{Input: 2_500_000, Output: 10_000_000}, 7_500},
		{"uses dearest input rate", 1000, 0, Price{Input: 3_000_000, CacheWrite: 3_750_000}, 3_750},
		{"rounds up", 1, 0, Price{Input: 150_000}, 1},
		{"negative clamps", -5, -5, Price{Input: 1_000_000, Output: 1_000_000}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := MaxCost(tt.prompt, tt.maxOut, tt.price); got != tt.want {
				t.Fatalf("MaxCost = %d; want %d", got, tt.want)
			}
		})
	}
}

const testCatalog = `
version: "test-1"
entries:
  - {provider: p, model: "m*", input: "1"}
  - {provider: p, model: "m-large*", input: "2"}
  - {provider: p, model: "m-large-v1", input: "3"}
  - {provider: p, model: "m-large*", region: "eu-*", input: "4"}
  - {provider: p, model: "m-large*", region: "eu-west-1", input: "5"}
  - {provider: p, model: "m-large-v1", region: "eu-west-1", input: "6"}
  - {provider: q, model: "*", input: "7"}
  - {provider: p, model: "dup*", input: "8"}
  - {provider: p, model: "dup*", input: "9"}
`

func TestLookupPrecedence(t *testing.T) {
	t.Parallel()
	c, err := ParseCatalog([]byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, provider, model, region string
		want                          int64 // input in dollars; 0 = not found
	}{
		{"glob", "p", "m-small", "", 1},
		{"longer glob beats shorter", "p", "m-large-v2", "us-east-1", 2},
		{"exact beats glob", "p", "m-large-v1", "us-east-1", 3},
		{"region glob beats global", "p", "m-large-v2", "eu-central-1", 4},
		{"exact region beats region glob", "p", "m-large-v2", "eu-west-1", 5},
		{"exact model and region beats all", "p", "m-large-v1", "eu-west-1", 6},
		{"exact model beats region-specific glob", "p", "m-large-v1", "eu-central-1", 3},
		{"star crosses slash and colon", "q", "publishers/x/models/y:1", "", 7},
		{"tie goes to first entry", "p", "dup-1", "", 8},
		{"unknown provider", "z", "m", "", 0},
		{"no match", "p", "x", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, ok := c.Lookup(tt.provider, tt.model, tt.region)
			if tt.want == 0 {
				if ok {
					t.Fatalf("Lookup found %+v; want no match", p)
				}
				return
			}
			if !ok || p.Input != tt.want*MicrosPerUSD {
				t.Fatalf("Lookup = %+v, %v; want input $%d", p, ok, tt.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*anthropic.claude*", "us.anthropic.claude-sonnet-4-20250514-v1:0", true},
		{"a*b*c", "aXbYbZc", true},
		{"abc", "abcd", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v; want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestDefaultCatalog(t *testing.T) {
	t.Parallel()
	c := DefaultCatalog()
	if c.Version == "" {
		t.Fatal("embedded catalog has no version")
	}
	tests := []struct {
		provider, model, region string
		input, output           string
	}{
		{"openai", "gpt-4o", "", "2.50", "10.00"},
		{"openai", "gpt-4o-mini-2024-07-18", "", "0.15", "0.60"},
		{"openai", "gpt-4o-2024-05-13", "", "5.00", "15.00"},
		{"azure", "gpt-4o", "global", "2.50", "10.00"},
		{"azure", "gpt-4o", "eastus", "2.75", "11.00"},
		{"anthropic", "claude-sonnet-4-20250514", "", "3.00", "15.00"},
		{"anthropic", "claude-opus-4-5-20251101", "", "5.00", "25.00"},
		{"anthropic", "claude-opus-4-1-20250805", "", "15.00", "75.00"},
		{"bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1", "3.30", "16.50"},
		{"bedrock", "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "us-east-1", "3.00", "15.00"},
		{"bedrock", "anthropic.claude-sonnet-4-20250514-v1:0", "us-east-1", "3.00", "15.00"},
		{"vertex", "gemini-2.5-flash-lite", "us-central1", "0.10", "0.40"},
		{"vertex", "gemini-2.5-flash", "us-central1", "0.30", "2.50"},
		{"vertex", "claude-sonnet-4-5@20250929", "global", "3.00", "15.00"},
		{"vertex", "claude-sonnet-4-5@20250929", "us-east5", "3.30", "16.50"},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.model+"/"+tt.region, func(t *testing.T) {
			t.Parallel()
			p, ok := c.Lookup(tt.provider, tt.model, tt.region)
			in, _ := ParseUSD(tt.input)
			out, _ := ParseUSD(tt.output)
			if !ok || p.Input != in || p.Output != out {
				t.Fatalf("Lookup = %+v, %v; want input %s output %s", p, ok, tt.input, tt.output)
			}
		})
	}
}

func TestParseCatalogErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"no version", `entries: []`, "version is required"},
		{"unknown field", "version: v\nentries:\n  - {provider: p, model: m, input: \"1\", cached_imput: \"1\"}", "cached_imput"},
		{"missing input", "version: v\nentries:\n  - {provider: p, model: m, output: \"1\"}", "needs input"},
		{"bad amount", "version: v\nentries:\n  - {provider: p, model: m, input: \"1.2.3\"}", "not a decimal dollar amount"},
		{"missing model", "version: v\nentries:\n  - {provider: p, input: \"1\"}", "needs provider and model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseCatalog([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseCatalog error = %v; want containing %q", err, tt.wantErr)
			}
		})
	}
}

const testConfig = `
deployments:
  special: {input: "1.00", output: "2.00"}
discounts:
  p: 12.5
commitments:
  - {provider: p, monthly: "100"}
  - {provider: p, deployment: reserved, monthly: "10.50"}
`

func loadConfig(t *testing.T) *Pricer {
	t.Helper()
	var cfg Config
	if err := yaml.Unmarshal([]byte(testConfig), &cfg); err != nil {
		t.Fatal(err)
	}
	c, err := ParseCatalog([]byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPricerOverridePrecedence(t *testing.T) {
	t.Parallel()
	p := loadConfig(t)
	tests := []struct {
		name      string
		d         Deployment
		wantInput int64
		wantOK    bool
	}{
		{"deployment price beats catalog and discount", Deployment{Name: "special", Provider: "p", Model: "m-large-v1"}, 1_000_000, true},
		{"discount applies to catalog price", Deployment{Name: "other", Provider: "p", Model: "m-large-v1"}, 2_625_000, true},
		{"other providers undiscounted", Deployment{Name: "x", Provider: "q", Model: "any"}, 7_000_000, true},
		{"unknown model", Deployment{Name: "x", Provider: "p", Model: "zzz"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for range 2 { // the second answer is memoised
				got, ok := p.Price(tt.d)
				if ok != tt.wantOK || got.Input != tt.wantInput {
					t.Fatalf("Price = %+v, %v; want input %d, %v", got, ok, tt.wantInput, tt.wantOK)
				}
			}
		})
	}
}

func TestEffectiveMarginalCost(t *testing.T) {
	t.Parallel()
	p := loadConfig(t)
	now := time.Date(2025, 3, 31, 23, 0, 0, 0, time.UTC)
	providerWide := Deployment{Name: "a", Provider: "p"}
	reserved := Deployment{Name: "reserved", Provider: "p"}
	none := Deployment{Name: "b", Provider: "q"}

	if got := p.EffectiveMarginalCost(none, 500, now); got != 500 {
		t.Fatalf("no commitment: marginal = %d; want 500", got)
	}
	if got := p.EffectiveMarginalCost(providerWide, 5_000_000, now); got != 0 {
		t.Fatalf("inside commitment: marginal = %d; want 0", got)
	}
	p.Record(providerWide, 98_000_000, now)
	if got := p.EffectiveMarginalCost(providerWide, 5_000_000, now); got != 3_000_000 {
		t.Fatalf("straddling commitment: marginal = %d; want 3000000", got)
	}
	// The deployment's own commitment is separate from the provider's.
	if got := p.EffectiveMarginalCost(reserved, 10_000_000, now); got != 0 {
		t.Fatalf("deployment commitment: marginal = %d; want 0", got)
	}
	p.Record(reserved, 10_500_000, now)
	if got := p.EffectiveMarginalCost(reserved, 1, now); got != 1 {
		t.Fatalf("used-up commitment: marginal = %d; want 1", got)
	}
	// A new month starts with the whole commitment again.
	next := now.Add(2 * time.Hour)
	if got := p.EffectiveMarginalCost(reserved, 1, next); got != 0 {
		t.Fatalf("after month rollover: marginal = %d; want 0", got)
	}
	p.SetCommitmentUsed(providerWide, next, 100_000_000)
	if monthly, used, ok := p.CommitmentStatus(providerWide, next); !ok || monthly != 100_000_000 || used != 100_000_000 {
		t.Fatalf("CommitmentStatus = %d, %d, %v", monthly, used, ok)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no provider", Config{Commitments: []Commitment{{Monthly: 1}}}, "provider is required"},
		{"zero monthly", Config{Commitments: []Commitment{{Provider: "p"}}}, "monthly must be a positive"},
		{"duplicate", Config{Commitments: []Commitment{{Provider: "p", Monthly: 1}, {Provider: "p", Monthly: 2}}}, "already defined"},
		{"empty price", Config{Deployments: map[string]Price{"d": {}}}, "set input and output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(nil, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v; want containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Percent
		wantErr bool
	}{
		{"12.5", 1250, false}, {"15%", 1500, false}, {"100", 10000, false}, {"101", 0, true}, {"1.234", 0, true}, {"x", 0, true},
	}
	for _, tt := range tests {
		got, err := ParsePercent(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v (err %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if s := Percent(1250).String(); s != "12.5%" {
		t.Errorf("String = %q", s)
	}
}

func FuzzParseUSD(f *testing.F) {
	for _, s := range []string{"2.50", "0.000001", "$1", ".5", "1.", "99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseUSD(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseUSD(%q) = %d, negative", s, v)
		}
		back, err := ParseUSD(strings.TrimPrefix(FormatUSD(v), "$"))
		if err != nil || back != v {
			t.Fatalf("round trip %q -> %d -> %q -> %d, %v", s, v, FormatUSD(v), back, err)
		}
	})
}

func FuzzParseCatalog(f *testing.F) {
	f.Add([]byte(testCatalog))
	f.Add(defaultCatalogYAML)
	f.Add([]byte("version: v\nentries:\n  - {provider: p, model: \"*\", input: \"0.1\", region: \"?\"}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog(data)
		if err != nil {
			return
		}
		for _, e := range c.Entries() {
			if e.Price.Input < 0 || e.Price.Output < 0 {
				t.Fatalf("negative price parsed: %+v", e)
			}
			// Every entry's own model and region match it.
			if _, ok := c.Lookup(e.Provider, e.Model, e.Region); !ok && !isGlob(e.Model) && !isGlob(e.Region) {
				t.Fatalf("entry %+v does not match its own model", e)
			}
		}
	})
}

func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"12.5", "100%", "0", "1.23", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePercent(s)
		if err == nil && (p < 0 || p > 10000) {
			t.Fatalf("ParsePercent(%q) = %d out of range", s, p)
		}
	})
}
