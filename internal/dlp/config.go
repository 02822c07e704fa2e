package dlp

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Action is what the gateway does with a finding.
type Action string

// Actions, from least to most intrusive.
const (
	// ActionAllow reports the finding (policies can still see it) and
	// changes nothing.
	ActionAllow Action = "allow"
	// ActionAlert reports the finding for audit and alerting and changes
	// nothing.
	ActionAlert Action = "alert"
	// ActionMask replaces the value with a fixed mask ("****1234" for
	// cards, "[EMAIL]" for e-mail) that cannot be reversed.
	ActionMask Action = "mask"
	// ActionRedact replaces the value with a stable placeholder
	// ("[EMAIL_1]") before the request leaves, and the Session restores the
	// original in the answer.
	ActionRedact Action = "redact"
	// ActionBlock refuses the text with a *BlockedError.
	ActionBlock Action = "block"
)

func (a Action) valid() bool {
	switch a {
	case ActionAllow, ActionAlert, ActionMask, ActionRedact, ActionBlock:
		return true
	}
	return false
}

// Config selects detectors and their actions.
type Config struct {
	// DefaultAction applies to every enabled detector that Actions does
	// not name. Default "alert" (observe only).
	DefaultAction Action `yaml:"default_action"`
	// Actions sets the action per detector name (built-in or custom), e.g.
	// {card: mask, email: redact, aws_access_key: block}.
	Actions map[string]Action `yaml:"actions"`
	// Disable lists built-in detectors that do not run at all (unlike
	// "allow", which still reports findings to policies).
	Disable []string `yaml:"disable"`
	// Custom adds detectors made of a regular expression or a word list.
	Custom []CustomDetector `yaml:"custom"`
}

// CustomDetector is a detector defined in configuration. Exactly one of
// Pattern and Words is set.
type CustomDetector struct {
	// Name identifies the detector in findings, actions and policies;
	// lower case letters, digits and '_'.
	Name string `yaml:"name"`
	// Pattern is a Go regular expression (RE2 syntax). Custom patterns run
	// over the whole text, so they cost more than built-in detectors; a
	// literal prefix ("PRJ-[0-9]+") lets the scanner skip texts without it.
	Pattern string `yaml:"pattern"`
	// Words are literal words or phrases matched at word boundaries.
	Words []string `yaml:"words"`
	// CaseSensitive makes Words match case-sensitively. Default false.
	// Patterns use the (?i) flag for the same effect.
	CaseSensitive bool `yaml:"case_sensitive"`
	// Label names the placeholder and mask: "[LABEL_1]", "[LABEL]".
	// Default: Name in upper case.
	Label string `yaml:"label"`
}

// Built-in detector names.
const (
	Email        = "email"
	Phone        = "phone"
	Card         = "card"
	IBAN         = "iban"
	SSN          = "ssn"
	IPv4         = "ipv4"
	IPv6         = "ipv6"
	AWSAccessKey = "aws_access_key"
	AWSSecretKey = "aws_secret_key"
	PrivateKey   = "private_key"
	JWT          = "jwt"
	OpenAIKey    = "openai_key"
	AnthropicKey = "anthropic_key"
	GitHubToken  = "github_token"
	SlackToken   = "slack_token"
	StripeKey    = "stripe_key"
	GoogleAPIKey = "google_api_key"
)

// Indexes into the built-in table; the order is the table's.
const (
	dEmail = iota
	dPhone
	dCard
	dIBAN
	dSSN
	dIPv4
	dIPv6
	dAWSAccessKey
	dAWSSecretKey
	dPrivateKey
	dJWT
	dOpenAIKey
	dAnthropicKey
	dGitHubToken
	dSlackToken
	dStripeKey
	dGoogleAPIKey
	numBuiltin
)

// builtins holds each built-in detector's name and placeholder label.
var builtins = [numBuiltin]struct{ name, label string }{
	dEmail:        {Email, "EMAIL"},
	dPhone:        {Phone, "PHONE"},
	dCard:         {Card, "CARD"},
	dIBAN:         {IBAN, "IBAN"},
	dSSN:          {SSN, "SSN"},
	dIPv4:         {IPv4, "IP"},
	dIPv6:         {IPv6, "IP"},
	dAWSAccessKey: {AWSAccessKey, "AWS_ACCESS_KEY"},
	dAWSSecretKey: {AWSSecretKey, "AWS_SECRET_KEY"},
	dPrivateKey:   {PrivateKey, "PRIVATE_KEY"},
	dJWT:          {JWT, "JWT"},
	dOpenAIKey:    {OpenAIKey, "API_KEY"},
	dAnthropicKey: {AnthropicKey, "API_KEY"},
	dGitHubToken:  {GitHubToken, "API_KEY"},
	dSlackToken:   {SlackToken, "API_KEY"},
	dStripeKey:    {StripeKey, "API_KEY"},
	dGoogleAPIKey: {GoogleAPIKey, "API_KEY"},
}

// BuiltinDetectors returns the names of the built-in detectors, all of
// which run unless Config.Disable names them.
func BuiltinDetectors() []string {
	out := make([]string, numBuiltin)
	for i, b := range builtins {
		out[i] = b.name
	}
	return out
}

// detector is one compiled detector; built-ins have index < numBuiltin.
type detector struct {
	name   string
	label  string
	action Action
	re     *regexp.Regexp // custom pattern, or nil
	prefix string         // literal prefix of re, for a cheap skip
	words  *wordList      // custom words, or nil
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func compileCustom(c CustomDetector) (detector, error) {
	if !validName.MatchString(c.Name) {
		return detector{}, fmt.Errorf("dlp: custom detector name %q: use lower case letters, digits and '_', starting with a letter", c.Name)
	}
	d := detector{name: c.Name, label: c.Label}
	if d.label == "" {
		d.label = strings.ToUpper(c.Name)
	}
	for _, r := range d.label {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return detector{}, fmt.Errorf("dlp: custom detector %q: label %q must be upper case letters, digits and '_'", c.Name, d.label)
		}
	}
	switch {
	case c.Pattern != "" && len(c.Words) > 0:
		return detector{}, fmt.Errorf("dlp: custom detector %q: set either pattern or words, not both", c.Name)
	case c.Pattern != "":
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return detector{}, fmt.Errorf("dlp: custom detector %q: pattern: %w", c.Name, err)
		}
		if re.MatchString("") {
			return detector{}, fmt.Errorf("dlp: custom detector %q: pattern %q matches the empty string; make it match at least one character", c.Name, c.Pattern)
		}
		d.re = re
		d.prefix, _ = re.LiteralPrefix()
	case len(c.Words) > 0:
		wl, err := newWordList(c.Words, c.CaseSensitive)
		if err != nil {
			return detector{}, fmt.Errorf("dlp: custom detector %q: %w", c.Name, err)
		}
		d.words = wl
	default:
		return detector{}, fmt.Errorf("dlp: custom detector %q: set pattern or words", c.Name)
	}
	return d, nil
}

// wordList matches literal words at word boundaries. Words are bucketed by
// their first byte (in both cases when case-insensitive) so a word start
// costs one table look-up.
type wordList struct {
	fold    bool
	buckets [256][]string
}

func newWordList(words []string, caseSensitive bool) (*wordList, error) {
	wl := &wordList{fold: !caseSensitive}
	for _, w := range words {
		w = strings.TrimSpace(w)
		if w == "" {
			return nil, fmt.Errorf("words: empty entry; remove it")
		}
		firsts := []byte{w[0]}
		if wl.fold {
			r, _ := utf8.DecodeRuneInString(w)
			for _, v := range []rune{unicode.ToLower(r), unicode.ToUpper(r), unicode.ToTitle(r)} {
				var b [utf8.UTFMax]byte
				utf8.EncodeRune(b[:], v)
				firsts = append(firsts, b[0])
			}
		}
		seen := map[byte]bool{}
		for _, f := range firsts {
			if !seen[f] {
				seen[f] = true
				wl.buckets[f] = append(wl.buckets[f], w)
			}
		}
	}
	return wl, nil
}
