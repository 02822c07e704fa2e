package dlp

import (
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"strings"
)

// localByte marks the characters of an e-mail local part (the common
// unquoted subset of RFC 5322).
var localByte, domainByte, hexColon, b64url, b64std [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		alnum := isAlnum(b)
		localByte[c] = alnum || strings.IndexByte("._%+-'", b) >= 0
		domainByte[c] = alnum || b == '-'
		hexColon[c] = isDigit(b) || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' || b == ':' || b == '.'
		b64url[c] = alnum || b == '-' || b == '_'
		b64std[c] = alnum || b == '/' || b == '+'
	}
}

// matchEmail matches local@domain around the '@' at text[at]. The domain
// needs at least two labels and an alphabetic top-level label of two or
// more letters, so "user@localhost", "a@b.c" and "@handle" are not
// addresses.
func matchEmail(text string, at int) (int, int, bool) {
	st := at
	for st > 0 && at-st < 64 && localByte[text[st-1]] {
		st--
	}
	for st < at && text[st] == '.' {
		st++
	}
	if st == at {
		return 0, 0, false
	}
	j, labels, lastStart := at+1, 0, 0
	for {
		ls := j
		for j < len(text) && domainByte[text[j]] {
			j++
		}
		if j == ls || j-ls > 63 {
			break
		}
		labels++
		lastStart = ls
		if j+1 < len(text) && text[j] == '.' && domainByte[text[j+1]] {
			j++
			continue
		}
		break
	}
	if labels < 2 || j-at > 254 {
		return 0, 0, false
	}
	// The last label decides where the address ends.
	tld := text[lastStart:j]
	if len(tld) < 2 {
		return 0, 0, false
	}
	for k := 0; k < len(tld); k++ {
		if !isUpper(tld[k]) && !isLower(tld[k]) {
			return 0, 0, false
		}
	}
	if j < len(text) && wordByte[text[j]] {
		return 0, 0, false
	}
	return st, j, true
}

// matchIPv6 matches an IPv6 address around the ':' at text[i]. It returns
// the candidate's end even when it fails, so the scan skips the candidate.
// Candidates that cannot be addresses (clock times, MAC addresses, "Note:")
// are rejected before netip is asked, which keeps prose allocation-free.
func matchIPv6(text string, i int) (int, int, bool) {
	st := i
	for st > 0 && i-st < 45 && hexColon[text[st-1]] {
		st--
	}
	en := i
	for en < len(text) && en-st < 45 && hexColon[text[en]] {
		en++
	}
	for en > i && text[en-1] == '.' { // sentence end
		en--
	}
	cand := text[st:en]
	colons := strings.Count(cand, ":")
	if colons < 2 || st > 0 && wordByte[text[st-1]] || en < len(text) && wordByte[text[en]] {
		return 0, en, false
	}
	double := strings.Contains(cand, "::")
	dotted := strings.IndexByte(cand, '.') >= 0
	if !double && colons != 7 && !(dotted && colons == 6) {
		return 0, en, false
	}
	a, err := netip.ParseAddr(cand)
	if err != nil || !a.Is6() {
		return 0, en, false
	}
	return st, en, true
}

// matchPEM matches a PEM private key block at text[i] ("-----BEGIN "),
// through its END line. A block without an END line runs to the end of
// the text: a truncated key is still a secret.
func matchPEM(text string, i int) (int, bool) {
	hdr := text[i+len("-----BEGIN "):]
	close := strings.Index(hdr[:min(len(hdr), 64)], "-----")
	if close < 0 || !strings.HasSuffix(hdr[:close], "PRIVATE KEY") {
		return 0, false
	}
	body := i + len("-----BEGIN ") + close + 5
	end := strings.Index(text[body:], "-----END ")
	if end < 0 {
		return len(text), true
	}
	end += body + len("-----END ")
	tail := strings.Index(text[end:min(len(text), end+64)], "-----")
	if tail < 0 {
		return len(text), true
	}
	return end + tail + 5, true
}

// runOf returns the end of the run of bytes in set starting at j.
func runOf(text string, j int, set *[256]bool) int {
	for j < len(text) && set[text[j]] {
		j++
	}
	return j
}

// prefixed matches prefix at text[i] followed by between minLen and maxLen
// bytes of set (maxLen 0: any), not glued to a further word byte.
func prefixed(text string, i int, prefix string, set *[256]bool, minLen, maxLen int) (int, bool) {
	if !strings.HasPrefix(text[i:], prefix) {
		return 0, false
	}
	st := i + len(prefix)
	en := runOf(text, st, set)
	n := en - st
	if n < minLen || maxLen > 0 && n > maxLen || en < len(text) && wordByte[text[en]] {
		return 0, false
	}
	return en, true
}

var alnumSet, upperDigit [256]bool

func init() {
	for c := 0; c < 256; c++ {
		alnumSet[c] = isAlnum(byte(c))
		upperDigit[c] = isUpper(byte(c)) || isDigit(byte(c))
	}
}

// token matches the fixed-prefix detectors at the word start text[i]. It
// returns the detector index and the end, or -1.
func (s *Scanner) token(text string, i int) (int, int) {
	e := &s.enabled
	rest := len(text) - i
	switch text[i] {
	case 'A':
		if rest < 20 {
			break
		}
		if e[dAWSAccessKey] && (text[i+1] == 'K' || text[i+1] == 'S') {
			if en, ok := prefixed(text, i, text[i:i+4], &upperDigit, 16, 16); ok && (text[i:i+4] == "AKIA" || text[i:i+4] == "ASIA") {
				return dAWSAccessKey, en
			}
		}
		if en, ok := prefixed(text, i, "AIza", &b64url, 35, 35); ok && e[dGoogleAPIKey] {
			return dGoogleAPIKey, en
		}
	case 's':
		if rest < 20 || text[i+1] != 'k' {
			break
		}
		if en, ok := prefixed(text, i, "sk-ant-", &b64url, 20, 0); ok && e[dAnthropicKey] {
			return dAnthropicKey, en
		}
		if en, ok := prefixed(text, i, "sk-", &b64url, 20, 0); ok && e[dOpenAIKey] && !strings.HasPrefix(text[i:], "sk-ant-") {
			return dOpenAIKey, en
		}
		if en, ok := prefixed(text, i, "sk_live_", &alnumSet, 16, 0); ok && e[dStripeKey] {
			return dStripeKey, en
		}
	case 'r':
		if en, ok := prefixed(text, i, "rk_live_", &alnumSet, 16, 0); ok && e[dStripeKey] {
			return dStripeKey, en
		}
	case 'g':
		if rest < 20 || !e[dGitHubToken] {
			break
		}
		if text[i+1] == 'h' && text[i+3] == '_' && strings.IndexByte("pousr", text[i+2]) >= 0 {
			if en, ok := prefixed(text, i, text[i:i+4], &alnumSet, 36, 36); ok {
				return dGitHubToken, en
			}
		}
		if en, ok := prefixed(text, i, "github_pat_", &b64url, 22, 0); ok {
			return dGitHubToken, en
		}
	case 'x':
		if e[dSlackToken] && strings.HasPrefix(text[i:], "xox") && rest > 5 && (text[i+3] == 'b' || text[i+3] == 'p') && text[i+4] == '-' {
			if en, ok := prefixed(text, i, text[i:i+5], &b64url, 10, 0); ok {
				return dSlackToken, en
			}
		}
	case 'e':
		if e[dJWT] && strings.HasPrefix(text[i:], "eyJ") {
			if en, ok := matchJWT(text, i); ok {
				return dJWT, en
			}
		}
	}
	if isUpper(text[i]) && s.enabled[dIBAN] {
		if en, ok := matchIBAN(text, i); ok {
			return dIBAN, en
		}
	}
	return -1, 0
}

// matchJWT matches header.payload.signature in base64url where the header
// decodes to a JSON object with an "alg" member. The signature may be
// empty (alg "none").
func matchJWT(text string, i int) (int, bool) {
	h := runOf(text, i, &b64url)
	if h-i < 10 || h >= len(text) || text[h] != '.' {
		return 0, false
	}
	p := runOf(text, h+1, &b64url)
	if p == h+1 || p >= len(text) || text[p] != '.' {
		return 0, false
	}
	en := runOf(text, p+1, &b64url)
	if en < len(text) && (wordByte[text[en]] || text[en] == '.') {
		return 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(text[i:h], "="))
	if err != nil {
		return 0, false
	}
	var hdr struct {
		Alg *json.RawMessage `json:"alg"`
	}
	if json.Unmarshal(raw, &hdr) != nil || hdr.Alg == nil {
		return 0, false
	}
	return en, true
}

// keyword looks for an AWS secret access key after an "aws" or "secret"
// keyword at the word start text[i] (any case; "aws_secret_access_key",
// "AWS_SECRET", "SecretAccessKey" all start one). A secret key is 40
// characters of base64 (A-Z a-z 0-9 / +) with at least one upper-case
// letter, one lower-case letter and one digit, within 128 bytes after the
// keyword; the mixed-case rule keeps 40-character hex digests (git SHAs)
// and words out. A 40-character value with no keyword before it is not
// reported: alone it is indistinguishable from other base64.
func (s *Scanner) keyword(text string, i int) (int, int, int) {
	if !s.enabled[dAWSSecretKey] {
		return -1, 0, 0
	}
	var kw int
	switch c := text[i] | 0x20; {
	case c == 'a' && len(text)-i >= 3 && strings.EqualFold(text[i:i+3], "aws"):
		kw = 3
	case c == 's' && len(text)-i >= 6 && strings.EqualFold(text[i:i+6], "secret"):
		kw = 6
	default:
		return -1, 0, 0
	}
	limit := min(len(text), i+kw+128)
	for j := i + kw; j < limit; {
		if !b64std[text[j]] {
			j++
			continue
		}
		en := runOf(text, j, &b64std)
		if en-j == 40 && (j == 0 || !b64std[text[j-1]]) && (en == len(text) || text[en] != '=' && !wordByte[text[en]]) && mixed(text[j:en]) {
			return dAWSSecretKey, j, en
		}
		j = en
	}
	return -1, 0, 0
}

func mixed(v string) bool {
	var u, l, d bool
	for k := 0; k < len(v); k++ {
		c := v[k]
		u = u || isUpper(c)
		l = l || isLower(c)
		d = d || isDigit(c)
	}
	return u && l && d
}
