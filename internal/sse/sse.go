// Package sse reads and writes server-sent events (text/event-stream), the
// framing OpenAI, Anthropic and Vertex AI use for streamed answers.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
)

// MaxEventSize bounds one event's data, so a hostile or broken upstream
// cannot make the gateway buffer without limit.
const MaxEventSize = 8 << 20

// ErrEventTooLarge is returned when an event exceeds MaxEventSize.
var ErrEventTooLarge = errors.New("sse: event larger than 8 MiB")

// Event is one dispatched server-sent event.
type Event struct {
	// Event is the `event:` field, or "" (the default "message").
	Event string
	// Data is the `data:` lines joined by "\n".
	Data []byte
	// ID is the `id:` field, or "".
	ID string
}

// Reader decodes events from a stream.
type Reader struct {
	sc   *bufio.Scanner
	data bytes.Buffer
	// rest is what the scanner holds beyond the last line it returned:
	// bytes already received but not yet decoded. Valid until the next Scan.
	rest []byte
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 16<<10), MaxEventSize+2)
	rd := &Reader{sc: sc}
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		advance, token, err := splitLines(data, atEOF)
		rd.rest = data[advance:]
		return advance, token, err
	})
	return rd
}

// Ready reports whether the next call to Next will return an event from
// bytes already received, without waiting on the underlying reader. It
// follows Next's own rules: a blank line ends an event only once a data,
// event or id field is pending, and comments never do.
func (r *Reader) Ready() bool {
	rest := r.rest
	hasData, hasEvent, hasID := false, false, false
	for {
		advance, line, _ := splitLines(rest, false) // 0: no whole line yet
		if advance == 0 {
			return false
		}
		rest = rest[advance:]
		if len(line) == 0 {
			if hasData || hasEvent || hasID {
				return true
			}
			continue
		}
		name, value := field(line)
		switch string(name) {
		case "data":
			hasData = true
		case "event":
			hasEvent = len(value) > 0
		case "id":
			hasID = len(value) > 0
		}
	}
}

// Next returns the next event. It returns io.EOF at a clean end of stream;
// a final event not followed by a blank line is still returned first,
// since some servers close right after their last data line. The returned
// Data is valid until the next call.
func (r *Reader) Next() (Event, error) {
	var ev Event
	r.data.Reset()
	hasData := false
	for {
		if !r.sc.Scan() {
			err := r.sc.Err()
			switch {
			case errors.Is(err, bufio.ErrTooLong):
				return Event{}, ErrEventTooLarge
			case err != nil:
				return Event{}, err
			case hasData || ev.Event != "":
				ev.Data = r.data.Bytes()
				return ev, nil
			default:
				return Event{}, io.EOF
			}
		}
		line := r.sc.Bytes()
		if len(line) == 0 {
			if !hasData && ev.Event == "" && ev.ID == "" {
				continue // blank line with nothing pending
			}
			ev.Data = r.data.Bytes()
			return ev, nil
		}
		if line[0] == ':' {
			continue // comment
		}
		name, value := field(line)
		switch string(name) {
		case "data":
			if hasData {
				r.data.WriteByte('\n')
			}
			if r.data.Len()+len(value) > MaxEventSize {
				return Event{}, ErrEventTooLarge
			}
			r.data.Write(value)
			hasData = true
		case "event":
			ev.Event = string(value)
		case "id":
			ev.ID = string(value)
		}
	}
}

// field splits a line into its field name and value, dropping the one
// space that may follow the colon.
func field(line []byte) (name, value []byte) {
	name, value, found := bytes.Cut(line, []byte(":"))
	if found && len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return name, value
}

// splitLines splits on the three line ends the SSE format allows: \n,
// \r\n and a lone \r.
func splitLines(data []byte, atEOF bool) (advance int, token []byte, err error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0:
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data):
		if data[i+1] == '\n' {
			return i + 2, data[:i], nil
		}
		return i + 1, data[:i], nil
	case atEOF:
		return i + 1, data[:i], nil
	default:
		return 0, nil, nil // a \r at the end: wait to see whether \n follows
	}
}

// Writer writes events to an HTTP response and flushes each one, so the
// client sees every chunk as soon as the gateway has it.
type Writer struct {
	w   io.Writer
	rc  *http.ResponseController
	buf []byte
}

// NewWriter returns a Writer of w. It sets no headers: call
// SetHeaders before the first Write.
func NewWriter(w http.ResponseWriter) *Writer {
	return &Writer{w: w, rc: http.NewResponseController(w)}
}

// SetHeaders sets the headers of an event stream.
func SetHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
}

// WriteData writes one `data:` event and flushes it. data must not contain
// a newline (JSON from encoding/json never does).
func (w *Writer) WriteData(data []byte) error {
	return w.WriteEvent("", data)
}

// WriteEvent writes one event with an optional `event:` name and flushes it.
func (w *Writer) WriteEvent(event string, data []byte) error {
	if err := w.Buffer(event, data); err != nil {
		return err
	}
	return w.Flush()
}

// Buffer writes one event without flushing it, so that events which
// arrived together leave in one write. The caller must Flush (or
// WriteEvent) before it waits for anything, or the client waits too.
func (w *Writer) Buffer(event string, data []byte) error {
	w.buf = w.buf[:0]
	if event != "" {
		w.buf = append(w.buf, "event: "...)
		w.buf = append(w.buf, event...)
		w.buf = append(w.buf, '\n')
	}
	w.buf = append(w.buf, "data: "...)
	w.buf = append(w.buf, data...)
	w.buf = append(w.buf, '\n', '\n')
	_, err := w.w.Write(w.buf)
	return err
}

// Flush sends what was written to the client.
func (w *Writer) Flush() error { return w.rc.Flush() }
