package openai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/provider/openai"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// canned is an http.RoundTripper that records the request and answers
// with a fixed status, headers and body.
type canned struct {
	status int
	header http.Header
	body   []byte
	got    *http.Request
	sent   []byte
}

func (c *canned) RoundTrip(req *http.Request) (*http.Response, error) {
	c.got = req
	if req.Body != nil {
		c.sent, _ = io.ReadAll(req.Body)
	}
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: c.status, Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), Request: req}, nil
}

// wireRequest renders a recorded request for a golden file, secrets masked.
func wireRequest(req *http.Request, body []byte, secrets ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s\n", req.Method, req.URL)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range req.Header {
			if !yield(k) {
				return
			}
		}
	}) {
		v := strings.Join(req.Header[name], ", ")
		for _, s := range secrets {
			v = strings.ReplaceAll(v, s, "<secret>")
		}
		fmt.Fprintf(&b, "%s: %s\n", name, v)
	}
	b.WriteByte('\n')
	if err := json.Indent(&b, body, "", "  "); err != nil {
		b.Write(body)
	}
	b.WriteByte('\n')
	return b.Bytes()
}

func goldenClient(rt http.RoundTripper) *openai.Client {
	opts := &openai.Options{APIKey: "sk-golden-secret", Organization: "org-golden"}
	return openai.New(openai.Name, provider.Config{
		Deployment: provider.Deployment{Name: "golden", Model: "gpt-4o"},
		HTTPClient: &http.Client{Transport: rt},
		Logger:     slog.New(slog.DiscardHandler),
	}, opts)
}

const okCompletion = `{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o","choices":[]}`

// TestGoldenRequests: canonical request (testdata/requests/*.json) ->
// the wire request OpenAI receives (*.openai.golden).
func TestGoldenRequests(t *testing.T) {
	files, _ := filepath.Glob("testdata/requests/*.json")
	if len(files) == 0 {
		t.Fatal("no request fixtures")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var req llm.ChatRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatal(err)
			}
			rt := &canned{status: 200, body: []byte(okCompletion)}
			c := goldenClient(rt)
			if req.Stream {
				rt.body = []byte("data: [DONE]\n\n")
				s, err := c.StreamChatCompletion(context.Background(), &req)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
			} else if _, err := c.ChatCompletion(context.Background(), &req); err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(in, ".json")+".openai.golden", wireRequest(rt.got, rt.sent, "sk-golden-secret"))
		})
	}
}

// TestGoldenResponses: wire response (testdata/responses/*.json) -> the
// canonical response and upstream facts (*.golden).
func TestGoldenResponses(t *testing.T) {
	files, _ := filepath.Glob("testdata/responses/*.json")
	if len(files) == 0 {
		t.Fatal("no response fixtures")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			rt := &canned{status: 200, body: raw, header: http.Header{"X-Request-Id": {"req_golden"}, "X-Ratelimit-Remaining-Requests": {"99"}}}
			resp, err := goldenClient(rt).ChatCompletion(context.Background(), chatRequest("hi"))
			if err != nil {
				t.Fatal(err)
			}
			// The answer keeps the provider's bytes for the OpenAI front
			// door; the golden is the canonical form a stage edits.
			if !bytes.Equal(resp.Wire(), raw) {
				t.Errorf("Wire() = %q, want the body as sent", resp.Wire())
			}
			resp.Edit()
			out, _ := json.MarshalIndent(resp, "", "  ")
			out = fmt.Appendf(out, "\nupstream: %+v\n", resp.Upstream)
			golden(t, strings.TrimSuffix(in, ".json")+".golden", out)
		})
	}
}

// streamGolden decodes a wire stream into one canonical chunk per line and
// the way the stream ended.
func streamGolden(body io.Reader) []byte {
	s := openai.NewStream(openai.StreamConfig{
		Body:     io.NopCloser(body),
		Target:   openai.Target{Provider: "openai", Deployment: "golden", Model: "gpt-4o"},
		Upstream: llm.Upstream{RateLimit: llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}},
	})
	defer s.Close()
	var out bytes.Buffer
	for {
		c, err := s.Next()
		if errors.Is(err, io.EOF) {
			out.WriteString("end: EOF\n")
			break
		}
		if err != nil {
			var le *llm.Error
			if errors.As(err, &le) {
				fmt.Fprintf(&out, "end: %d %s code=%q upstream=%v: %s\n", le.Status, le.Type, le.Code, le.Upstream, le.Message)
			} else {
				fmt.Fprintf(&out, "end: %v\n", err)
			}
			break
		}
		b, _ := json.Marshal(c)
		out.Write(b)
		out.WriteByte('\n')
	}
	fmt.Fprintf(&out, "upstream: %+v\n", s.Upstream())
	return out.Bytes()
}

// TestGoldenStreams: wire event stream (testdata/streams/*.sse) -> the
// canonical chunks and the end of the stream (*.golden).
func TestGoldenStreams(t *testing.T) {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	if len(files) == 0 {
		t.Fatal("no stream fixtures")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(in, ".sse")+".golden", streamGolden(bytes.NewReader(raw)))
		})
	}
}

func TestCompatibleWithoutKeySendsNoCredentials(t *testing.T) {
	rt := &canned{status: 200, body: []byte(okCompletion)}
	f, _ := provider.Lookup(openai.CompatibleName)
	opts := &openai.CompatibleOptions{Options: openai.Options{BaseURL: "http://localhost:11434/v1/"}}
	if err := opts.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := f.New(provider.Config{Deployment: provider.Deployment{Name: "ollama", Model: "llama3.2"}, Options: opts,
		HTTPClient: &http.Client{Transport: rt}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ChatCompletion(context.Background(), chatRequest("hi")); err != nil {
		t.Fatal(err)
	}
	if got := rt.got.URL.String(); got != "http://localhost:11434/v1/chat/completions" {
		t.Errorf("URL = %s", got)
	}
	if h := rt.got.Header.Get("Authorization"); h != "" {
		t.Errorf("authorization = %q; want none without api_key", h)
	}
}
