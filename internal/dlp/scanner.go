package dlp

import (
	"fmt"
	"sort"
	"strings"
)

// Finding is one detected value: text[Start:End] matched Detector.
type Finding struct {
	// Detector is the detector's name (see BuiltinDetectors, or a custom
	// detector's Name).
	Detector string
	// Start and End are byte offsets into the scanned text (for a
	// StreamScanner, into the whole stream).
	Start, End int
	// Action is the action configured for Detector.
	Action Action
}

// Scanner detects sensitive values. It is immutable and safe for
// concurrent use.
type Scanner struct {
	dets       []detector // built-ins first (indexed by d* constants), then custom
	enabled    [numBuiltin]bool
	anyBuiltin bool
	custom     []int // indexes of custom detectors in dets
}

// New compiles cfg.
func New(cfg Config) (*Scanner, error) {
	def := cfg.DefaultAction
	if def == "" {
		def = ActionAlert
	}
	if !def.valid() {
		return nil, fmt.Errorf("dlp: default_action %q: use allow, alert, mask, redact or block", def)
	}
	s := &Scanner{}
	byName := map[string]int{}
	for i, b := range builtins {
		s.dets = append(s.dets, detector{name: b.name, label: b.label, action: def})
		s.enabled[i] = true
		byName[b.name] = i
	}
	for _, name := range cfg.Disable {
		i, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("dlp: disable: unknown detector %q; built-in detectors are %s", name, strings.Join(BuiltinDetectors(), ", "))
		}
		s.enabled[i] = false
	}
	for _, c := range cfg.Custom {
		d, err := compileCustom(c)
		if err != nil {
			return nil, err
		}
		if _, dup := byName[d.name]; dup {
			return nil, fmt.Errorf("dlp: custom detector %q: the name is already taken; choose another", d.name)
		}
		d.action = def
		byName[d.name] = len(s.dets)
		s.custom = append(s.custom, len(s.dets))
		s.dets = append(s.dets, d)
	}
	if err := s.setActions(cfg.Actions, byName); err != nil {
		return nil, err
	}
	for _, e := range s.enabled {
		s.anyBuiltin = s.anyBuiltin || e
	}
	return s, nil
}

func (s *Scanner) setActions(actions map[string]Action, byName map[string]int) error {
	names := make([]string, 0, len(actions))
	for n := range actions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := actions[n]
		i, ok := byName[n]
		if !ok {
			return fmt.Errorf("dlp: actions: unknown detector %q; use a built-in detector (%s) or a custom detector's name", n, strings.Join(BuiltinDetectors(), ", "))
		}
		if !a.valid() {
			return fmt.Errorf("dlp: actions: detector %q: action %q: use allow, alert, mask, redact or block", n, a)
		}
		s.dets[i].action = a
	}
	return nil
}

// WithActions returns a Scanner that shares s's compiled detectors but
// uses the given per-detector actions on top of s's; this is how a key or
// team policy overrides the gateway default. Build it once per policy, not
// per request.
func (s *Scanner) WithActions(actions map[string]Action) (*Scanner, error) {
	c := *s
	c.dets = append([]detector(nil), s.dets...)
	byName := make(map[string]int, len(c.dets))
	for i, d := range c.dets {
		byName[d.name] = i
	}
	if err := c.setActions(actions, byName); err != nil {
		return nil, err
	}
	return &c, nil
}

// Action returns the action configured for the named detector, or "" if
// there is no such detector.
func (s *Scanner) Action(detector string) Action {
	for _, d := range s.dets {
		if d.name == detector {
			return d.action
		}
	}
	return ""
}

// Scan returns the findings in text, ordered by Start and not
// overlapping. It returns nil, without allocating, when there are none.
func (s *Scanner) Scan(text string) []Finding {
	var out []Finding
	if s.anyBuiltin {
		out = s.scanBuiltin(text, out)
	}
	for _, i := range s.custom {
		out = s.scanCustom(text, i, out)
	}
	return normalize(out)
}

// add records text[start:end] as found by detector i.
func (s *Scanner) add(out []Finding, i, start, end int) []Finding {
	return append(out, Finding{Detector: s.dets[i].name, Start: start, End: end, Action: s.dets[i].action})
}

// normalize sorts findings and drops overlaps, keeping the longer one.
func normalize(fs []Finding) []Finding {
	if len(fs) < 2 {
		return fs
	}
	sort.SliceStable(fs, func(a, b int) bool {
		if fs[a].Start != fs[b].Start {
			return fs[a].Start < fs[b].Start
		}
		return fs[a].End > fs[b].End
	})
	out := fs[:1]
	for _, f := range fs[1:] {
		last := &out[len(out)-1]
		if f.Start < last.End {
			if f.End-f.Start > last.End-last.Start {
				*last = f
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

// Byte classes for the single pass. Class 0 bytes (most prose) cost one
// table look-up.
const (
	cNone byte = iota
	cDigit
	cPlus
	cParen
	cAt
	cColon
	cDash
	cUpper
	cLowerTrigger
)

var class [256]byte

// wordByte marks [A-Za-z0-9_]: a token must not be glued to one.
var wordByte [256]bool

func init() {
	for c := '0'; c <= '9'; c++ {
		class[c] = cDigit
		wordByte[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		class[c] = cUpper
		wordByte[c] = true
		wordByte[c+'a'-'A'] = true
	}
	wordByte['_'] = true
	class['+'] = cPlus
	class['('] = cParen
	class['@'] = cAt
	class[':'] = cColon
	class['-'] = cDash
	// Lower-case letters that start a token prefix or a keyword: sk-,
	// sk_live_, secret, rk_live_, ghp_, github_pat_, xoxb-, eyJ, aws.
	for _, c := range "sgxear" {
		class[c] = cLowerTrigger
	}
}

func wordStart(text string, i int) bool { return i == 0 || !wordByte[text[i-1]] }

// scanBuiltin is the single pass over text for the built-in detectors.
func (s *Scanner) scanBuiltin(text string, out []Finding) []Finding {
	e := &s.enabled
	for i := 0; i < len(text); {
		k := class[text[i]]
		if k == cNone {
			i++
			continue
		}
		next := i + 1
		switch k {
		case cDigit, cPlus, cParen:
			if wordStart(text, i) && (k == cDigit || i+1 < len(text) && isDigit(text[i+1])) {
				out, next = s.numeric(text, i, out)
			}
		case cAt:
			if e[dEmail] {
				if st, en, ok := matchEmail(text, i); ok {
					out, next = s.add(out, dEmail, st, en), en
				}
			}
		case cColon:
			if e[dIPv6] {
				if st, en, ok := matchIPv6(text, i); ok {
					out, next = s.add(out, dIPv6, st, en), en
				} else if en > next {
					next = en
				}
			}
		case cDash:
			if e[dPrivateKey] && strings.HasPrefix(text[i:], "-----BEGIN ") {
				if en, ok := matchPEM(text, i); ok {
					out, next = s.add(out, dPrivateKey, i, en), en
				}
			}
		case cUpper, cLowerTrigger:
			if wordStart(text, i) {
				var d, en int
				if d, en = s.token(text, i); d >= 0 {
					out, next = s.add(out, d, i, en), en
				} else if d, st, en := s.keyword(text, i); d >= 0 {
					// Resume after the keyword, not the key: what lies
					// between them is scanned too.
					out = s.add(out, d, st, en)
				}
			}
		}
		i = next
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isUpper(c) || isLower(c) }

// scanCustom runs custom detector i over text.
func (s *Scanner) scanCustom(text string, i int, out []Finding) []Finding {
	d := &s.dets[i]
	if d.re != nil {
		if d.prefix != "" && !strings.Contains(text, d.prefix) {
			return out
		}
		for _, m := range d.re.FindAllStringIndex(text, -1) {
			if m[1] > m[0] {
				out = s.add(out, i, m[0], m[1])
			}
		}
		return out
	}
	d.words.scan(text, func(st, en int) { out = s.add(out, i, st, en) })
	return out
}

// scan calls found for each word in text. Case folding compares equal byte
// lengths, so it is exact for ASCII and for letters whose cases have the
// same UTF-8 length.
func (wl *wordList) scan(text string, found func(start, end int)) {
	for i := 0; i < len(text); i++ {
		b := wl.buckets[text[i]]
		if b == nil || !wordStart(text, i) {
			continue
		}
		for _, w := range b {
			if len(text)-i < len(w) {
				continue
			}
			cand := text[i : i+len(w)]
			if (wl.fold && strings.EqualFold(cand, w) || cand == w) && (i+len(w) == len(text) || !wordByte[text[i+len(w)]]) {
				found(i, i+len(w))
				i += len(w) - 1
				break
			}
		}
	}
}
