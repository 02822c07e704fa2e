package dlp

import "strings"

// StreamRestorer restores placeholders in a streamed answer whose chunks
// may split a placeholder ("[EMA" + "IL_1]"). Latency bound: it holds back
// only a tail that could still become a placeholder — from the last '['
// when everything after it is placeholder characters — and never more
// than the session's longest placeholder minus one byte; everything else
// is released by the Write that brought it. Not safe for concurrent use.
type StreamRestorer struct {
	sess    *Session
	pending string
}

// NewStreamRestorer returns a restorer for sess's placeholders.
func NewStreamRestorer(sess *Session) *StreamRestorer {
	return &StreamRestorer{sess: sess}
}

// Write takes the next chunk and returns the text that is ready, with
// placeholders restored.
func (r *StreamRestorer) Write(delta string) string {
	max := 0
	if r.sess != nil {
		max = r.sess.longest()
	}
	if max == 0 && r.pending == "" {
		return delta
	}
	buf := r.pending + delta
	hold := heldPlaceholder(buf, max)
	r.pending = buf[hold:]
	return r.sess.Restore(buf[:hold])
}

// Flush returns whatever is held back; call it at the end of the stream.
func (r *StreamRestorer) Flush() string {
	p := r.pending
	r.pending = ""
	return r.sess.Restore(p)
}

// heldPlaceholder returns where the unfinished placeholder at the end of
// buf starts, or len(buf). Placeholder characters contain no '[', so only
// the last '[' can open one.
func heldPlaceholder(buf string, max int) int {
	k := strings.LastIndexByte(buf, '[')
	if k < 0 || len(buf)-k >= max {
		return len(buf)
	}
	for j := k + 1; j < len(buf); j++ {
		if !placeholderByte[buf[j]] {
			return len(buf)
		}
	}
	return k
}

// StreamOptions bound a StreamScanner's look-behind.
type StreamOptions struct {
	// Window is the look-behind in bytes: any value up to Window-1 bytes
	// long is detected whatever the chunking. Default 256.
	Window int
	// MaxHold caps how long an unterminated PEM private key or JWT is held
	// back while the rest of it arrives. Default 16 KiB.
	MaxHold int
}

// StreamScanner applies a Scanner's actions to a streamed answer whose
// chunks may split a value. Redact acts as mask on this side: nothing
// would restore the value afterwards. Run it on the raw upstream text,
// before a StreamRestorer, so restored originals are not caught again.
//
// Latency bound: a Write releases all but the last Window bytes at once;
// a value that straddles that cut is held back whole, so at most
// 2×Window bytes are pending, except while an unterminated "-----BEGIN"
// block or JWT is in flight, when up to MaxHold bytes are. A value held
// longer than MaxHold is masked up to the cut and its rest goes through
// unmasked. Flush releases everything at the end of the stream. Not safe
// for concurrent use.
type StreamScanner struct {
	sc      *Scanner
	opts    StreamOptions
	ctx     string // the last Window bytes already released, for left context
	buf     string // pending raw text
	base    int    // stream offset of buf[0]
	found   []Finding
	blocked error
}

// NewStreamScanner returns a StreamScanner for one answer.
func (s *Scanner) NewStreamScanner(opts StreamOptions) *StreamScanner {
	if opts.Window <= 0 {
		opts.Window = 256
	}
	if opts.MaxHold < 2*opts.Window {
		opts.MaxHold = max(16<<10, 2*opts.Window)
	}
	return &StreamScanner{sc: s, opts: opts}
}

// Write takes the next chunk and returns the text that is ready, masked.
// After a block finding it returns a *BlockedError, now and on every later
// call; the caller should end the stream.
func (ss *StreamScanner) Write(delta string) (string, error) {
	if ss.blocked != nil {
		return "", ss.blocked
	}
	ss.buf += delta
	if len(ss.buf) <= ss.opts.Window {
		return "", nil
	}
	return ss.release(false)
}

// Flush releases everything pending; call it at the end of the stream.
func (ss *StreamScanner) Flush() (string, error) {
	if ss.blocked != nil {
		return "", ss.blocked
	}
	return ss.release(true)
}

// Findings returns the findings so far, with offsets into the whole
// stream.
func (ss *StreamScanner) Findings() []Finding { return ss.found }

func (ss *StreamScanner) release(final bool) (string, error) {
	full := ss.ctx + ss.buf
	lc := len(ss.ctx)
	all := ss.sc.Scan(full)
	fs := all[:0]
	for _, f := range all {
		if f.Start >= lc { // those starting in ctx were dealt with
			fs = append(fs, f)
		}
	}
	cut := len(full)
	if !final {
		cut = len(full) - ss.opts.Window
		floor := len(full) - ss.opts.MaxHold
		if h := unterminated(full, lc); h >= 0 && h >= floor && h < cut {
			cut = h
		}
		for k := range fs {
			f := &fs[k]
			if f.Start < cut && f.End > cut {
				if f.Start >= floor {
					cut = f.Start
				} else {
					f.End = cut // held too long: mask what is released
				}
			}
		}
		if cut <= lc {
			return "", nil
		}
	}
	// Redact acts as mask here; offsets move to raw (for rewrite) and to
	// the stream (for Findings).
	var done []Finding
	for _, f := range fs {
		if f.End > cut {
			continue
		}
		if f.Action == ActionRedact {
			f.Action = ActionMask
		}
		f.Start, f.End = f.Start-lc, f.End-lc
		done = append(done, f)
		ss.found = append(ss.found, Finding{Detector: f.Detector, Start: f.Start + ss.base, End: f.End + ss.base, Action: f.Action})
	}
	raw := full[lc:cut]
	out, err := ss.sc.rewrite(raw, done, nil)
	if err != nil {
		ss.blocked = err
		return "", err
	}
	released := full[:cut]
	ss.ctx = released[max(0, len(released)-ss.opts.Window):]
	ss.buf = full[cut:]
	ss.base += len(raw)
	return out, nil
}

// unterminated returns where an unfinished long value at the end of text
// starts (a "-----BEGIN" without "-----END" after it, or a trailing
// base64url run that starts a JWT), or -1.
func unterminated(text string, from int) int {
	if b := strings.LastIndex(text, "-----BEGIN"); b >= from && !strings.Contains(text[b:], "-----END") {
		return b
	}
	j := len(text)
	for j > from && (b64url[text[j-1]] || text[j-1] == '.') {
		j--
	}
	for j < len(text) && text[j] == '.' {
		j++
	}
	if strings.HasPrefix(text[j:], "eyJ") {
		return j
	}
	return -1
}
