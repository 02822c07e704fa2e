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
