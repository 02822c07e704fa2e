package sse

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t testing.TB, r io.Reader) ([]Event, error) {
	t.Helper()
	rd := NewReader(r)
	var out []Event
	for {
		ev, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		ev.Data = bytes.Clone(ev.Data)
		out = append(out, ev)
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Event
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []Event{{Data: []byte(`{"a":1}`)}, {Data: []byte("[DONE]")}}},
		{"anthropic named", "event: message_start\ndata: {}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n",
			[]Event{{Event: "message_start", Data: []byte("{}")}, {Event: "ping", Data: []byte(`{"type":"ping"}`)}}},
		{"crlf", "data: x\r\n\r\ndata: y\r\n\r\n", []Event{{Data: []byte("x")}, {Data: []byte("y")}}},
		{"lone cr", "data: x\r\rdata: y\r\r", []Event{{Data: []byte("x")}, {Data: []byte("y")}}},
		{"multi-line data", "data: a\ndata: b\n\n", []Event{{Data: []byte("a\nb")}}},
		{"comments and blanks", ": keep-alive\n\n\n\ndata: z\n\n", []Event{{Data: []byte("z")}}},
		{"no space after colon", "data:z\n\n", []Event{{Data: []byte("z")}}},
		{"last event without blank line", "data: tail", []Event{{Data: []byte("tail")}}},
		{"id field", "id: 7\ndata: q\n\n", []Event{{ID: "7", Data: []byte("q")}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := readAll(t, r)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d events %q, want %d", len(got), got, len(tt.want))
				}
				for i := range got {
					if got[i].Event != tt.want[i].Event || !bytes.Equal(got[i].Data, tt.want[i].Data) || got[i].ID != tt.want[i].ID {
						t.Errorf("event %d = %+v (%q), want %+v (%q)", i, got[i], got[i].Data, tt.want[i], tt.want[i].Data)
					}
				}
			}
		})
	}
}

func TestReaderBoundsEventSize(t *testing.T) {
	huge := "data: " + strings.Repeat("x", MaxEventSize+10) + "\n\n"
	_, err := readAll(t, strings.NewReader(huge))
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("err = %v, want ErrEventTooLarge", err)
	}
}

func TestReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := readAll(t, io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the read error", err)
	}
}

func TestWriterFlushesEachEvent(t *testing.T) {
	rec := httptest.NewRecorder()
	SetHeaders(rec.Header())
	w := NewWriter(rec)
	if err := w.WriteEvent("message_start", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if !rec.Flushed {
		t.Error("event not flushed")
	}
	if err := w.WriteData([]byte("[DONE]")); err != nil {
		t.Fatal(err)
	}
	if got := rec.Body.String(); got != "event: message_start\ndata: {}\n\ndata: [DONE]\n\n" {
		t.Errorf("body %q", got)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("content-type %q", ct)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("event: x\r\ndata: y\r\n\r\n: c\rdata:z"))
	f.Fuzz(func(t *testing.T, in []byte) {
		evs, _ := readAll(t, bytes.NewReader(in))
		total := 0
		for _, e := range evs {
			total += len(e.Data)
		}
		if total > len(in) {
			t.Fatalf("decoded %d bytes of data from %d bytes of input", total, len(in))
		}
	})
}

// segmentReader serves its segments one Read at a time, and records a Read
// made while the test said none was needed.
type segmentReader struct {
	segs      [][]byte
	forbidden bool // set while the Reader claimed to be Ready
	violated  bool
}

func (r *segmentReader) Read(p []byte) (int, error) {
	if r.forbidden {
		r.violated = true
	}
	if len(r.segs) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.segs[0])
	if r.segs[0] = r.segs[0][n:]; len(r.segs[0]) == 0 {
		r.segs = r.segs[1:]
	}
	return n, nil
}

// readyReads drives Next over in, cut into segments at cuts, and returns
// how many events came out while Ready said they would, failing the test
// if Ready ever promised an event that needed another Read.
func readyReads(t *testing.T, in []byte, cuts []byte) int {
	t.Helper()
	var segs [][]byte
	for _, c := range cuts {
		if len(in) == 0 {
			break
		}
		n := min(int(c)+1, len(in))
		segs, in = append(segs, in[:n]), in[n:]
	}
	if len(in) > 0 {
		segs = append(segs, in)
	}
	src := &segmentReader{segs: segs}
	rd := NewReader(src)
	ready := 0
	for {
		src.forbidden = rd.Ready()
		_, err := rd.Next()
		if src.violated {
			t.Fatalf("Ready promised an event, but Next had to read again")
		}
		if err != nil {
			return ready
		}
		if src.forbidden {
			ready++
		}
	}
}

func TestReaderReady(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		cuts      []byte
		wantReady int
	}{
		{"all in one read", "data: a\n\ndata: b\n\ndata: [DONE]\n\n", []byte{255}, 2},
		{"one event per read", "data: a\n\ndata: b\n\n", []byte{8, 8}, 0},
		{"event split across reads", "data: a\n\ndata: bb\n\n", []byte{12, 2}, 0},
		{"comment is not an event", "data: a\n\n: ping\n\ndata: b\n\n", []byte{17, 20}, 0},
		{"crlf and lone cr", "data: a\r\n\r\nevent: e\r\rdata: c\n\n", []byte{255}, 2},
		{"cr at the end of a read", "data: a\r\n\r\ndata: b\r", []byte{15, 1}, 0},
		{"empty event field", "data: a\n\nevent:\n\ndata: b\n\n", []byte{255}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readyReads(t, []byte(tt.in), tt.cuts); got != tt.wantReady {
				t.Errorf("%d events came ready, want %d", got, tt.wantReady)
			}
		})
	}
}

func FuzzReaderReady(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"), []byte{3, 40})
	f.Add([]byte("event: x\r\ndata: y\r\n\r\n: c\rdata:z\r\r"), []byte{0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, in, cuts []byte) { readyReads(t, in, cuts) })
}
