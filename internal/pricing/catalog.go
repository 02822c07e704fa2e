package pricing

import (
	"bytes"
	_ "embed"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed catalog.yaml
var defaultCatalogYAML []byte

// Entry is one catalog line: the price of models matching Model on
// Provider in regions matching Region.
type Entry struct {
	Provider string
	// Model is an exact model id or a glob: "*" matches any run of
	// characters (including "/" and ":"), "?" any one character.
	Model string
	// Region is a glob over the deployment's region; empty applies to every
	// region, below any entry that names one.
	Region string
	Price  Price
}

// Catalog is a versioned list of prices. It is immutable once parsed, so
// lookups need no lock.
type Catalog struct {
	// Version names the date the list prices were taken, e.g. "2025-11-01".
	Version string
	// Note describes where the prices come from.
	Note    string
	entries []Entry
}

type catalogYAML struct {
	Version string      `yaml:"version"`
	Note    string      `yaml:"note"`
	Entries []entryYAML `yaml:"entries"`
}

type entryYAML struct {
	Provider    string `yaml:"provider"`
	Model       string `yaml:"model"`
	Region      string `yaml:"region"`
	Input       string `yaml:"input"`
	Output      string `yaml:"output"`
	CachedInput string `yaml:"cached_input"`
	CacheWrite  string `yaml:"cache_write"`
}

// DefaultCatalog returns the catalog shipped with the binary: list prices
// as of its Version, to be overridden where a contract says otherwise.
func DefaultCatalog() *Catalog {
	c, err := ParseCatalog(defaultCatalogYAML)
	if err != nil {
		panic("pricing: embedded catalog.yaml is invalid: " + err.Error())
	}
	return c
}

// ParseCatalog reads a catalog in the format of the embedded catalog.yaml.
// Unknown fields are errors, so a misspelt "cached_imput" is not silently
// billed at the input price.
func ParseCatalog(data []byte) (*Catalog, error) {
	var raw catalogYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("pricing catalog: %w", err)
	}
	if raw.Version == "" {
		return nil, fmt.Errorf("pricing catalog: version is required (the date the prices were taken)")
	}
	c := &Catalog{Version: raw.Version, Note: raw.Note, entries: make([]Entry, 0, len(raw.Entries))}
	for i, e := range raw.Entries {
		if e.Provider == "" || e.Model == "" {
			return nil, fmt.Errorf("pricing catalog: entry %d needs provider and model", i)
		}
		p, err := priceYAML{e.Input, e.Output, e.CachedInput, e.CacheWrite}.parse()
		if err != nil {
			return nil, fmt.Errorf("pricing catalog: entry %d (%s %s): %w", i, e.Provider, e.Model, err)
		}
		c.entries = append(c.entries, Entry{Provider: e.Provider, Model: e.Model, Region: e.Region, Price: p})
	}
	return c, nil
}

// Entries returns a copy of the catalog's entries, in file order.
func (c *Catalog) Entries() []Entry { return append([]Entry(nil), c.entries...) }

// Lookup finds the price of model on provider in region. The most specific
// entry wins: an exact model id beats any glob; then an exact region beats
// a region glob, which beats an entry for every region; then the glob with
// more literal characters; ties go to the entry listed first.
func (c *Catalog) Lookup(provider, model, region string) (Price, bool) {
	best, bestScore := -1, specificity{}
	for i := range c.entries {
		e := &c.entries[i]
		if e.Provider != provider {
			continue
		}
		s, ok := e.match(model, region)
		if !ok {
			continue
		}
		if best < 0 || s.beats(bestScore) {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return Price{}, false
	}
	return c.entries[best].Price, true
}

// specificity ranks matching entries; see Lookup.
type specificity struct {
	exactModel   bool
	regionRank   int // 2 exact, 1 glob, 0 any region
	modelLiteral int
	regionLit    int
}

func (a specificity) beats(b specificity) bool {
	if a.exactModel != b.exactModel {
		return a.exactModel
	}
	if a.regionRank != b.regionRank {
		return a.regionRank > b.regionRank
	}
	if a.modelLiteral != b.modelLiteral {
		return a.modelLiteral > b.modelLiteral
	}
	return a.regionLit > b.regionLit
}

func (e *Entry) match(model, region string) (specificity, bool) {
	var s specificity
	if !isGlob(e.Model) {
		if e.Model != model {
			return s, false
		}
		s.exactModel = true
	} else if !globMatch(e.Model, model) {
		return s, false
	}
	s.modelLiteral = literalLen(e.Model)
	switch {
	case e.Region == "":
	case !isGlob(e.Region):
		if e.Region != region {
			return s, false
		}
		s.regionRank = 2
	default:
		if !globMatch(e.Region, region) {
			return s, false
		}
		s.regionRank = 1
		s.regionLit = literalLen(e.Region)
	}
	return s, true
}

func isGlob(p string) bool { return strings.ContainsAny(p, "*?") }

func literalLen(p string) int { return len(p) - strings.Count(p, "*") - strings.Count(p, "?") }

// globMatch matches name against a pattern of literals, "*" and "?".
// Unlike path.Match, "*" crosses "/" and ":", which appear in Vertex and
// Bedrock model ids. It backtracks only to the last star, so it is linear
// in practice.
func globMatch(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == name[n]):
			p++
			n++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
