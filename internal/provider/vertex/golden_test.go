package vertex

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

var update = flag.Bool("update", false, "rewrite the golden .out.json files from the current translation")

// goldenMeta is the fixed metadata golden translations use.
var goldenMeta = respMeta{deployment: "gemini-eu", model: "gemini-2.0-flash", id: "chatcmpl-golden", created: 1735689600}

// errorJSON is how goldens record an expected *llm.Error.
type errorJSON struct {
	Status  int    `json:"status"`
	Type    string `json:"type"`
	Code    string `json:"code,omitempty"`
	Param   string `json:"param,omitempty"`
	Message string `json:"message"`
}

func errorOut(t *testing.T, err error) map[string]any {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	return map[string]any{"error": errorJSON{e.Status, e.Type, e.Code, e.Param, e.Message}}
}

// runGolden feeds every testdata/<dir>/*.in.<ext> file to translate and
// compares the JSON it returns with the matching .out.json file.
func runGolden(t *testing.T, dir, ext string, translate func(t *testing.T, in []byte) any) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.in."+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs in testdata/%s: %v", dir, err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".in."+ext)
		t.Run(name, func(t *testing.T) {
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(translate(t, input), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			outPath := filepath.Join("testdata", dir, name+".out.json")
			if *update {
				if err := os.WriteFile(outPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(outPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("translation of %s differs from %s (run with -update after checking):\n--- got\n%s\n--- want\n%s", in, outPath, got, want)
			}
		})
	}
}

func TestGoldenRequests(t *testing.T) {
	runGolden(t, "request", "json", func(t *testing.T, in []byte) any {
		var req llm.ChatRequest
		if err := json.Unmarshal(in, &req); err != nil {
			t.Fatalf("golden input is not a chat request: %v", err)
		}
		before, _ := json.Marshal(req)
		out, err := toGemini(&req, goldenMeta.deployment)
		if after, _ := json.Marshal(req); !bytes.Equal(before, after) {
			t.Error("toGemini modified the request")
		}
		if err != nil {
			return errorOut(t, err)
		}
		return out
	})
}

func TestGoldenResponses(t *testing.T) {
	runGolden(t, "response", "json", func(t *testing.T, in []byte) any {
		var resp generateContentResponse
		if err := json.Unmarshal(in, &resp); err != nil {
			t.Fatalf("golden input is not a Gemini response: %v", err)
		}
		out, err := fromGemini(&resp, goldenMeta)
		if err != nil {
			return errorOut(t, err)
		}
		return out
	})
}

func TestGoldenStreams(t *testing.T) {
	runGolden(t, "stream", "sse", func(t *testing.T, in []byte) any {
		chunks, err := drain(newGeminiStream(t.Context(), io.NopCloser(bytes.NewReader(in)), goldenMeta, llm.Upstream{}))
		out := map[string]any{"chunks": chunks}
		if err != io.EOF {
			out["end"] = errorOut(t, err)["error"]
		} else {
			out["end"] = "EOF"
		}
		return out
	})
}

// drain reads a stream to its end, returning its chunks and final error.
func drain(s llm.ChatStream) ([]*llm.ChatChunk, error) {
	defer s.Close()
	var chunks []*llm.ChatChunk
	for {
		c, err := s.Next()
		if err != nil {
			return chunks, err
		}
		chunks = append(chunks, c)
	}
}
