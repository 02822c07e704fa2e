package openaisim_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/openaisim"
)

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// post sends a raw request to the fake and returns the answer.
func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close(); http.DefaultClient.CloseIdleConnections() })
	return resp
}

// dataLines reads the `data:` payloads of an event stream, and the read
// error that ended it (nil at a clean end).
func dataLines(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			out = append(out, v)
		}
	}
	return out, sc.Err()
}

func TestStreamWireShape(t *testing.T) {
	tests := []struct {
		name         string
		includeUsage bool
	}{
		{"include_usage", true},
		{"no usage", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv, _ := fake(t, openaisim.Options{})
			body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`
			if tt.includeUsage {
				body = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
			}
			resp := post(t, srv.URL+"/v1/chat/completions", body)
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("content-type = %q", ct)
			}
			lines, err := dataLines(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if lines[len(lines)-1] != "[DONE]" {
				t.Fatalf("last event = %q; want [DONE]", lines[len(lines)-1])
			}
			chunks := lines[:len(lines)-1]
			var first map[string]json.RawMessage
			for i, line := range chunks {
				var c map[string]json.RawMessage
				if err := json.Unmarshal([]byte(line), &c); err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				if i == 0 {
					first = c
					if !strings.Contains(line, `"role":"assistant"`) {
						t.Errorf("first chunk has no role: %s", line)
					}
				}
				if string(c["id"]) != string(first["id"]) || string(c["created"]) != string(first["created"]) {
					t.Errorf("chunk %d id/created differ from the first", i)
				}
				usage, has := c["usage"]
				last := i == len(chunks)-1
				switch {
				case !tt.includeUsage && has:
					t.Errorf("chunk %d has usage without include_usage: %s", i, line)
				case tt.includeUsage && !last && string(usage) != "null":
					t.Errorf("chunk %d usage = %s; want null", i, usage)
				case tt.includeUsage && last && (string(c["choices"]) != "[]" || string(usage) == "null"):
					t.Errorf("last chunk = %s; want choices [] and usage totals", line)
				}
			}
		})
	}
}

func TestStreamTruncatedHasNoDone(t *testing.T) {
	eng, srv, _ := fake(t, openaisim.Options{})
	eng.SetScript(&sim.Script{Rules: []sim.Rule{{Reply: sim.Reply{Text: "a b c d e f g h"}}}})
	eng.SetFaults(&sim.Faults{TruncateAfter: 3})
	resp := post(t, srv.URL+"/v1/chat/completions", `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	lines, err := dataLines(resp.Body)
	if err == nil {
		t.Error("truncated stream ended cleanly; want the connection cut")
	}
	if len(lines) != 3 {
		t.Errorf("got %d events before the cut; want 3", len(lines))
	}
	for _, l := range lines {
		if l == "[DONE]" {
			t.Error("truncated stream sent [DONE]")
		}
	}
}

func TestRequestValidation(t *testing.T) {
	tests := []struct {
		name, body, wantParam string
	}{
		{"no messages", `{"model":"gpt-4o","messages":[]}`, "messages"},
		{"no model", `{"messages":[{"role":"user","content":"hi"}]}`, "model"},
		{"stream_options without stream", `{"model":"gpt-4o","stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, "stream_options"},
		{"bad role", `{"model":"gpt-4o","messages":[{"role":"robot","content":"hi"}]}`, "messages[0].role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv, _ := fake(t, openaisim.Options{})
			resp := post(t, srv.URL+"/v1/chat/completions", tt.body)
			var body struct {
				Error struct {
					Message string  `json:"message"`
					Param   *string `json:"param"`
				} `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 400 || body.Error.Param == nil || *body.Error.Param != tt.wantParam || body.Error.Message == "" {
				t.Errorf("answer %d %+v; want 400 naming %s", resp.StatusCode, body.Error, tt.wantParam)
			}
		})
	}
}

func TestAdminMounted(t *testing.T) {
	eng, srv, _ := fake(t, openaisim.Options{})
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/_sim/faults", strings.NewReader(`{"down":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != 200 || !eng.Faults().Down {
		t.Errorf("PUT /_sim/faults = %d, down = %v", resp.StatusCode, eng.Faults().Down)
	}
}
