package dlp

import "net/netip"

// numeric examines the number that starts at text[i]: a digit, or a '+' or
// '(' before one. It returns the findings and where scanning resumes: the
// whole run is consumed, so a long number is looked at once.
func (s *Scanner) numeric(text string, i int, out []Finding) ([]Finding, int) {
	e := &s.enabled
	if e[dIPv4] && isDigit(text[i]) {
		if en, ok := matchIPv4(text, i); ok {
			return s.add(out, dIPv4, i, en), en
		}
	}
	var r numRun
	r.read(text, i)
	if r.end < len(text) && wordByte[text[r.end]] {
		return out, r.end // glued to a word: an id such as 1234567890abc
	}
	switch {
	case e[dCard] && r.isCard():
		return s.add(out, dCard, i, r.end), r.end
	case e[dSSN] && r.isSSN():
		return s.add(out, dSSN, i, r.end), r.end
	case e[dPhone] && r.isPhone():
		return s.add(out, dPhone, i, r.end), r.end
	}
	return out, r.end
}

// Separator kinds seen in a numRun.
const (
	sepSpace uint8 = 1 << iota
	sepDash
	sepDot
	sepSlash
	sepParen
)

const maxGroups = 8

// numRun is a number with separators: groups of digits joined by a single
// ' ', '-', '.' or '/', or by a parenthesis with an optional space or dash
// ("(555) 123-4567", "+1 (555) ...").
type numRun struct {
	end        int
	digits     int
	buf        [19]byte // the first 19 digits
	groups     [maxGroups]int
	ngroups    int // may exceed maxGroups; groups beyond are not kept
	seps       uint8
	plus       bool // starts with '+'
	parenGroup int  // index of the parenthesised group, or -1
	parenOK    bool // the parenthesis was closed right after its group
}

func (r *numRun) read(text string, i int) {
	r.parenGroup = -1
	j := i
	open := false
	switch text[j] {
	case '+':
		r.plus = true
		j++
	case '(':
		open, r.parenGroup = true, 0
		r.seps |= sepParen
		j++
	}
	for {
		n := 0
		for j < len(text) && isDigit(text[j]) {
			if r.digits < len(r.buf) {
				r.buf[r.digits] = text[j]
			}
			r.digits++
			n++
			j++
		}
		if r.ngroups < maxGroups {
			r.groups[r.ngroups] = n
		}
		r.ngroups++
		r.end = j
		// A separator: one of " -./", or a parenthesis with at most one
		// space or dash beside it.
		k := j
		var mask uint8
		if open && k < len(text) && text[k] == ')' {
			k++
			if k < len(text) && (text[k] == ' ' || text[k] == '-') {
				k++
			}
			mask = sepParen
		} else if k < len(text) {
			switch text[k] {
			case ' ':
				mask = sepSpace
			case '-':
				mask = sepDash
			case '.':
				mask = sepDot
			case '/':
				mask = sepSlash
			}
			if mask != 0 {
				k++
			}
			if r.parenGroup < 0 && r.plus && r.ngroups == 1 && k < len(text) && text[k] == '(' {
				// "+1 (555) 123-4567"
				open, r.parenGroup = true, 1
				mask |= sepParen
				k++
			}
		}
		if mask == 0 || k >= len(text) || !isDigit(text[k]) {
			return
		}
		if mask == sepParen && open {
			open, r.parenOK = false, r.parenGroup == r.ngroups-1
		}
		r.seps |= mask
		j = k
	}
}

// isCard: 13-19 digits, optionally grouped by single spaces or dashes, a
// known issuer range and a valid Luhn check digit.
func (r *numRun) isCard() bool {
	if r.plus || r.parenGroup >= 0 || r.seps&^(sepSpace|sepDash) != 0 || r.digits < 13 || r.digits > 19 {
		return false
	}
	d := r.buf[:r.digits]
	return knownIIN(d) && luhn(d)
}

func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

func prefixNum(d []byte, n int) int {
	v := 0
	for _, c := range d[:n] {
		v = v*10 + int(c-'0')
	}
	return v
}

// knownIIN checks the issuer identification number (leading digits) and
// length against the major networks: Visa, Mastercard, American Express,
// Discover, JCB, Diners Club, UnionPay, Maestro and Mir.
func knownIIN(d []byte) bool {
	l := len(d)
	p1, p2, p3, p4, p6 := prefixNum(d, 1), prefixNum(d, 2), prefixNum(d, 3), prefixNum(d, 4), prefixNum(d, 6)
	switch {
	case p1 == 4:
		return l == 13 || l == 16 || l == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return l == 16
	case p2 == 34 || p2 == 37:
		return l == 15
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65, p6 >= 622126 && p6 <= 622925:
		return l >= 16
	case p4 >= 3528 && p4 <= 3589:
		return l >= 16
	case p3 >= 300 && p3 <= 305, p4 == 3095, p2 == 36, p2 == 38, p2 == 39:
		return l >= 14
	case p2 == 62:
		return l >= 16
	case p4 == 5018, p4 == 5020, p4 == 5038, p4 == 5893, p4 == 6304, p4 == 6759, p4 >= 6761 && p4 <= 6763:
		return true
	case p4 >= 2200 && p4 <= 2204:
		return l == 16
	}
	return false
}

// isSSN: a US social security number written AAA-GG-SSSS (dashes or
// spaces), with the SSA's rules: the area is not 000, 666 or 900-999, the
// group not 00 and the serial not 0000. Nine bare digits are not taken for
// an SSN: too many other numbers look like that.
func (r *numRun) isSSN() bool {
	if r.plus || r.parenGroup >= 0 || r.ngroups != 3 || r.groups[0] != 3 || r.groups[1] != 2 || r.groups[2] != 4 {
		return false
	}
	if r.seps != sepDash && r.seps != sepSpace {
		return false
	}
	area, group, serial := prefixNum(r.buf[:3], 3), prefixNum(r.buf[3:5], 2), prefixNum(r.buf[5:9], 4)
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

// isPhone is a heuristic, tuned to leave plain numbers, dates, versions,
// prices and ids alone:
//
//   - international: '+' then 8-15 digits, with any of the separators;
//   - national, 9-12 digits, no '/' (dates), dots only when dots are the
//     only separator (555.123.4567, not "12.50 13.75"), and either
//   - three or more groups of 2-4 digits ("555-123-4567",
//     "(555) 123-4567", "020 7946 0958", "06 12 34 56 78"); when spaces
//     are the only separator the number must start with a 0 trunk prefix
//     or have the US 3-3-4 shape, so "2019 2020 2021" is not a phone;
//     the SSN shape 3-2-4 and thousands grouping (1 234 567 890) are not
//     phones;
//   - or two groups where the first is a 0-prefixed or parenthesised
//     area code of 2-5 digits and the second has 5-8 ("030 1234567").
//
// A run of digits without separators or '+' is never a phone: it is far
// more often an id, an amount or a timestamp.
func (r *numRun) isPhone() bool {
	if r.parenGroup >= 0 && !r.parenOK || r.seps&sepSlash != 0 || r.ngroups > maxGroups {
		return false
	}
	if r.plus {
		return r.digits >= 8 && r.digits <= 15
	}
	if r.digits < 9 || r.digits > 12 {
		return false
	}
	if r.seps&sepDot != 0 && r.seps != sepDot {
		return false
	}
	g := r.groups[:r.ngroups]
	trunk := r.buf[0] == '0' || r.parenGroup == 0
	if len(g) == 2 {
		return trunk && g[0] >= 2 && g[0] <= 5 && g[1] >= 5 && g[1] <= 8
	}
	if len(g) < 3 {
		return false
	}
	thousands := g[0] <= 3
	for k, n := range g {
		if n < 2 || n > 4 {
			return false
		}
		if k > 0 && n != 3 {
			thousands = false
		}
	}
	us := len(g) == 3 && g[0] == 3 && g[1] == 3 && g[2] == 4
	switch {
	case thousands && r.parenGroup < 0,
		len(g) == 3 && g[0] == 3 && g[1] == 2 && g[2] == 4,
		r.seps == sepSpace && !trunk && !us:
		return false
	}
	return true
}

// matchIPv4 matches a dotted quad at text[i]; the quad must not continue
// into a longer dotted number (1.2.3.4.5) or a word.
func matchIPv4(text string, i int) (int, bool) {
	j := i
	for octet := 0; octet < 4; octet++ {
		if octet > 0 {
			if j >= len(text) || text[j] != '.' {
				return 0, false
			}
			j++
		}
		n, v := 0, 0
		for j < len(text) && isDigit(text[j]) && n < 4 {
			v = v*10 + int(text[j]-'0')
			j++
			n++
		}
		if n == 0 || n > 3 || v > 255 {
			return 0, false
		}
	}
	if j < len(text) && (wordByte[text[j]] || text[j] == '.' && j+1 < len(text) && isDigit(text[j+1])) {
		return 0, false
	}
	a, err := netip.ParseAddr(text[i:j])
	return j, err == nil && a.Is4()
}

// ibanLength is the IBAN length per country (ISO 13616 registry).
var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
	"MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25,
	"QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

// ibanLen is ibanLength as an array indexed by the two letters, for the
// hot path.
var ibanLen [26 * 26]uint8

func init() {
	for cc, n := range ibanLength {
		ibanLen[int(cc[0]-'A')*26+int(cc[1]-'A')] = uint8(n)
	}
}

// matchIBAN matches an IBAN at text[i] (upper case, compact or in groups
// separated by single spaces) whose length fits its country and whose
// mod-97 check passes.
func matchIBAN(text string, i int) (int, bool) {
	if i+4 > len(text) || !isUpper(text[i]) || !isUpper(text[i+1]) || !isDigit(text[i+2]) || !isDigit(text[i+3]) {
		return 0, false
	}
	want := int(ibanLen[int(text[i]-'A')*26+int(text[i+1]-'A')])
	if want == 0 {
		return 0, false
	}
	var buf [34]byte
	n, j := 0, i
	for n < want && j < len(text) {
		c := text[j]
		switch {
		case isDigit(c) || isUpper(c):
			buf[n] = c
			n++
			j++
		case c == ' ' && n > 0 && j+1 < len(text) && (isDigit(text[j+1]) || isUpper(text[j+1])):
			j++
		default:
			return 0, false
		}
	}
	if n < want || j < len(text) && wordByte[text[j]] {
		return 0, false
	}
	// Move the country code and check digits to the end, read letters as
	// 10..35 and take the remainder digit by digit.
	rem := 0
	for k := 0; k < want; k++ {
		c := buf[(k+4)%want]
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A'+10)) % 97
		}
	}
	return j, rem == 1
}
