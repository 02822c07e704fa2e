package dlp

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// BlockedError is returned when a finding's action is block. Its message
// names the detector and never the value.
type BlockedError struct {
	// Detector is the name of the detector that matched.
	Detector string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("blocked by data loss prevention: the text contains data detected as %q, which this gateway does not allow to be sent; remove it and try again", e.Detector)
}

// Session holds one request's placeholders and the originals they stand
// for, so the answer can be restored. It is safe for concurrent use.
type Session struct {
	mu     sync.Mutex
	byKey  map[string]string // label+"\x00"+original -> placeholder
	orig   map[string]string // placeholder -> original
	next   map[string]int    // label -> last number used
	maxLen int               // longest placeholder, for stream look-behind
}

// NewSession returns an empty session; use one per request.
func NewSession() *Session { return &Session{} }

// Len returns the number of placeholders in the session.
func (s *Session) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.orig)
}

// placeholder returns the placeholder for original, allocating
// "[LABEL_n]" on first sight. Numbers whose placeholder already appears in
// text are skipped, so restoring never rewrites text the user wrote.
func (s *Session) placeholder(label, original, text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := label + "\x00" + original
	if p, ok := s.byKey[key]; ok {
		return p
	}
	if s.byKey == nil {
		s.byKey, s.orig, s.next = map[string]string{}, map[string]string{}, map[string]int{}
	}
	n := s.next[label]
	var p string
	for {
		n++
		p = "[" + label + "_" + strconv.Itoa(n) + "]"
		if _, used := s.orig[p]; !used && !strings.Contains(text, p) {
			break
		}
	}
	s.next[label] = n
	s.byKey[key], s.orig[p] = p, original
	s.maxLen = max(s.maxLen, len(p))
	return p
}

func (s *Session) lookup(p string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orig[p]
	return o, ok
}

func (s *Session) longest() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxLen
}

// Restore replaces the session's placeholders in text with the originals.
// Text without placeholders is returned as is, without allocating.
func (s *Session) Restore(text string) string {
	if s == nil || s.longest() == 0 {
		return text
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(text); {
		k := strings.IndexByte(text[i:], '[')
		if k < 0 {
			break
		}
		i += k
		en := placeholderEnd(text, i)
		if en < 0 {
			i++
			continue
		}
		o, ok := s.lookup(text[i:en])
		if !ok {
			i++
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(text))
		}
		b.WriteString(text[last:i])
		b.WriteString(o)
		last, i = en, en
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// placeholderByte marks the characters between a placeholder's brackets.
var placeholderByte [256]bool

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		placeholderByte[c] = isUpper(b) || isDigit(b) || b == '_'
	}
}

// placeholderEnd returns the end of a "[LABEL_n]" shape at text[i], or -1.
func placeholderEnd(text string, i int) int {
	j := i + 1
	for j < len(text) && placeholderByte[text[j]] {
		j++
	}
	if j < len(text) && text[j] == ']' && j > i+1 {
		return j + 1
	}
	return -1
}

// mask returns the irreversible replacement for a value: "****1234" (the
// last four digits) for a card, "[LABEL]" otherwise.
func mask(d *detector, value string) string {
	if d.name == Card {
		var last [4]byte
		n := 0
		for k := len(value) - 1; k >= 0 && n < 4; k-- {
			if isDigit(value[k]) {
				n++
				last[4-n] = value[k]
			}
		}
		return "****" + string(last[4-n:])
	}
	return "[" + d.label + "]"
}

// Apply scans text and applies each finding's action: it returns the text
// to send on, with masked values replaced and redacted values swapped for
// the session's placeholders, and all findings (allow and alert
// included, for audit and policies). A block finding returns a
// *BlockedError and no text. A nil session turns redact into mask, since
// nothing could restore the value. When nothing changes, text is returned
// without allocating.
func (s *Scanner) Apply(text string, sess *Session) (string, []Finding, error) {
	fs := s.Scan(text)
	out, err := s.rewrite(text, fs, sess)
	return out, fs, err
}

// rewrite applies the actions of fs (sorted, not overlapping) to text.
func (s *Scanner) rewrite(text string, fs []Finding, sess *Session) (string, error) {
	change := false
	for _, f := range fs {
		switch f.Action {
		case ActionBlock:
			return "", &BlockedError{Detector: f.Detector}
		case ActionMask, ActionRedact:
			change = true
		}
	}
	if !change {
		return text, nil
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range fs {
		if f.Action != ActionMask && f.Action != ActionRedact {
			continue
		}
		d := s.detector(f.Detector)
		b.WriteString(text[last:f.Start])
		v := text[f.Start:f.End]
		if f.Action == ActionRedact && sess != nil {
			b.WriteString(sess.placeholder(d.label, v, text))
		} else {
			b.WriteString(mask(d, v))
		}
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String(), nil
}

func (s *Scanner) detector(name string) *detector {
	for i := range s.dets {
		if s.dets[i].name == name {
			return &s.dets[i]
		}
	}
	return &detector{name: name, label: strings.ToUpper(name)}
}
