package openai_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	json "github.com/segmentio/encoding/json"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider/openai"
	"github.com/switchyard/switchyard/internal/sse"
)

func FuzzStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: [DONE]\n\n"))
	f.Add([]byte("data: {\"error\":null,\"choices\":[{\"index\":0,\"delta\":{}}]}\n\ndata: [DONE]\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkPassThrough(t, body)
		s := openai.NewStream(openai.StreamConfig{Body: io.NopCloser(bytes.NewReader(body)), Target: openai.Target{Provider: "openai", Deployment: "fuzz"}})
		defer s.Close()
		for range 10000 {
			c, err := s.Next()
			if errors.Is(err, io.EOF) {
				if !bytes.Contains(body, []byte("[DONE]")) {
					t.Fatal("io.EOF from a stream that never sent [DONE]")
				}
				return
			}
			if err != nil {
				le, ok := errors.AsType[*llm.Error](err)
				if !ok || !le.Upstream || le.Message == "" {
					t.Fatalf("stream error %v (%T) is not an upstream *llm.Error with a message", err, err)
				}
				return
			}
			if len(c.Choices) == 0 && c.Usage == nil {
				t.Fatalf("chunk with neither choices nor usage was delivered: %+v", c)
			}
		}
		t.Fatal("stream did not end")
	})
}

// checkPassThrough: keeping the wire form changes nothing but Wire. The
// same chunks and end come out either way; each kept wire form is one
// event's data, and encodes (after Edit) like the chunk decoded without it.
func checkPassThrough(t *testing.T, body []byte) {
	t.Helper()
	decode := func(pass bool) (out []string, wires [][]byte, end string) {
		s := openai.NewStream(openai.StreamConfig{Body: io.NopCloser(bytes.NewReader(body)), Target: openai.Target{Provider: "openai", Deployment: "fuzz"}, PassThrough: pass})
		defer s.Close()
		for range 10000 {
			c, err := s.Next()
			if err != nil {
				return out, wires, err.Error()
			}
			if w := c.Wire(); w != nil {
				wires = append(wires, w)
			}
			c.Edit()
			b, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		t.Fatal("stream did not end")
		return
	}
	want, none, wantEnd := decode(false)
	got, wires, gotEnd := decode(true)
	if len(none) != 0 {
		t.Fatalf("without PassThrough %d chunk(s) kept their wire form", len(none))
	}
	if gotEnd != wantEnd || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("PassThrough changed the stream:\n got %q (%s)\nwant %q (%s)", got, gotEnd, want, wantEnd)
	}
	events := map[string]bool{}
	r := sse.NewReader(bytes.NewReader(body))
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		events[string(bytes.TrimSpace(ev.Data))] = true
	}
	for _, w := range wires {
		if !events[string(w)] {
			t.Fatalf("wire form %q is no event's data", w)
		}
	}
}

func FuzzErrorBody(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{400, `{"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":null}}`},
		{429, `{"error":{"code":"429","message":"Please retry after 6 seconds."}}`},
		{400, `{"error":{"message":"filtered","type":null,"param":"prompt","code":"content_filter","innererror":{"code":"ResponsibleAIPolicyViolation"}}}`},
		{404, `{"error":"model not found"}`},
		{400, `{"object":"error","message":"too long","code":400}`},
		{502, `<html>bad gateway</html>`},
		{401, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret"}`},
		{500, ``},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body), "7")
	}
	allowed := map[int]bool{400: true, 413: true, 429: true, 502: true, 503: true, 504: true}
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retryAfter}}}
		e := openai.ErrorFromResponse(openai.Target{Provider: "openai", Deployment: "fuzz", Model: "m"}, resp, body)
		if !allowed[e.Status] {
			t.Fatalf("status %d mapped to %d", status, e.Status)
		}
		if !e.Upstream || e.Message == "" || e.Type == "" {
			t.Fatalf("incomplete error %+v", e)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative retry after %v", e.RetryAfter)
		}
		if len(e.Message) > 1500 {
			t.Fatalf("message of %d bytes is not bounded", len(e.Message))
		}
		_ = openai.StreamError(openai.Target{Deployment: "fuzz"}, body)
	})
}

// BenchmarkStreamDecode measures the cost of decoding one content chunk.
func BenchmarkStreamDecode(b *testing.B) {
	const chunks = 1000
	var buf strings.Builder
	for i := range chunks {
		fmt.Fprintf(&buf, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1735689600,"model":"gpt-4o","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" word%d"},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n", i)
	}
	buf.WriteString("data: [DONE]\n\n")
	stream := []byte(buf.String())
	// PassThrough keeps each chunk's bytes and skips the walk for unknown
	// members; without it every chunk is ready to be encoded again.
	for _, pass := range []bool{false, true} {
		b.Run(fmt.Sprintf("passthrough=%v", pass), func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				s := openai.NewStream(openai.StreamConfig{Body: io.NopCloser(bytes.NewReader(stream)), Target: openai.Target{Deployment: "bench"}, PassThrough: pass})
				n := 0
				for {
					if _, err := s.Next(); err != nil {
						break
					}
					n++
				}
				if n != chunks {
					b.Fatalf("decoded %d chunks; want %d", n, chunks)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*chunks), "ns/chunk")
		})
	}
}
