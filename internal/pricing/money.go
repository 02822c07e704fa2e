package pricing

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MicrosPerUSD is the number of micro-USD in one US dollar. All money in
// Switchyard is an int64 count of micro-USD: a float would make two
// replicas disagree on a budget by a rounding error.
const MicrosPerUSD = 1_000_000

// tokensPerUnit is the number of tokens a catalog price is quoted for.
const tokensPerUnit = 1_000_000

// ParseUSD parses a decimal dollar amount such as "2.50" or "0.075" into
// micro-USD, exactly. More than six decimal places is an error rather than
// a silent rounding.
func ParseUSD(s string) (int64, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "$")
	if s == "" {
		return 0, fmt.Errorf("empty amount: write a dollar amount such as 2.50")
	}
	neg := strings.HasPrefix(s, "-")
	if neg {
		return 0, fmt.Errorf("amount %q is negative: prices and limits must be >= 0", s)
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 6 {
		return 0, fmt.Errorf("amount %q has more than 6 decimal places (micro-USD precision)", s)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, fmt.Errorf("amount %q is not a decimal dollar amount such as 2.50", s)
	}
	if w > (1<<62)/MicrosPerUSD {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	var f int64
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("amount %q is not a decimal dollar amount such as 2.50", s)
		}
	}
	return w*MicrosPerUSD + f, nil
}

// FormatUSD renders micro-USD as dollars with trailing zeros trimmed to at
// least cents: 2500000 -> "$2.50", 75000 -> "$0.075".
func FormatUSD(micros int64) string {
	sign := ""
	if micros < 0 {
		sign = "-"
		micros = -micros
	}
	frac := fmt.Sprintf("%06d", micros%MicrosPerUSD)
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return fmt.Sprintf("%s$%d.%s", sign, micros/MicrosPerUSD, frac)
}

// Percent is a percentage with two decimal places, held as basis points
// (1250 = 12.5%), so discounts stay exact integers.
type Percent int64

// ParsePercent parses "12.5" or "12.5%" into basis points.
func ParsePercent(s string) (Percent, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("percentage %q has more than 2 decimal places", s)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, fmt.Errorf("percentage %q is not a number between 0 and 100", s)
	}
	if w > 100 {
		// Checked before scaling: w*100 overflows for huge inputs.
		return 0, fmt.Errorf("percentage %q is above 100", s)
	}
	var f int64
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 2-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("percentage %q is not a number between 0 and 100", s)
		}
	}
	p := Percent(w*100 + f)
	if p > 10000 {
		return 0, fmt.Errorf("percentage %q is above 100", s)
	}
	return p, nil
}

// UnmarshalYAML reads a percentage written as a number or a string.
func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParsePercent(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*p = v
	return nil
}

// String renders basis points as a percentage such as "12.5%".
func (p Percent) String() string {
	s := strings.TrimRight(fmt.Sprintf("%d.%02d", p/100, p%100), "0")
	return strings.TrimSuffix(s, ".") + "%"
}

// applyDiscount takes d off a per-million price, rounding to the nearest
// micro-USD.
func applyDiscount(price int64, d Percent) int64 {
	if d <= 0 {
		return price
	}
	return divRound(price*int64(10000-d), 10000)
}

// divRound divides non-negative a by b, rounding half up.
func divRound(a, b int64) int64 { return (a + b/2) / b }

// divCeil divides non-negative a by b, rounding up.
func divCeil(a, b int64) int64 { return (a + b - 1) / b }
