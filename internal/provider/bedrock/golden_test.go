package bedrock

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

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/switchyard/switchyard/internal/llm"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const goldenDeployment = "golden-deployment"

var goldenMeta = respMeta{
	errorContext: errorContext{deployment: goldenDeployment, model: "anthropic.claude-3-haiku-20240307-v1:0"},
	id:           "chatcmpl-golden", created: 1735689600,
}

// goldenError is how a translation error is written in the corpus.
type goldenError struct {
	Error struct {
		Status   int    `json:"status"`
		Type     string `json:"type"`
		Param    string `json:"param,omitempty"`
		Message  string `json:"message"`
		Upstream bool   `json:"upstream,omitempty"`
	} `json:"error"`
}

func errorJSON(t *testing.T, err error) any {
	t.Helper()
	var e *llm.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *llm.Error", err, err)
	}
	var g goldenError
	g.Error.Status, g.Error.Type, g.Error.Param, g.Error.Message, g.Error.Upstream = e.Status, e.Type, e.Param, e.Message, e.Upstream
	return g
}

// checkGolden compares got (marshalled, indented) with the file, or
// rewrites the file under -update.
func checkGolden(t *testing.T, path string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("%s differs (run go test -update after checking the change):\n--- got\n%s\n--- want\n%s", path, b, want)
	}
}

func goldenInputs(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files %s (%v)", pattern, err)
	}
	return files
}

// TestGolden_Requests: canonical request -> Converse body, or the 400 it earns.
func TestGolden_Requests(t *testing.T) {
	for _, in := range goldenInputs(t, "requests/*.in.json") {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var req llm.ChatRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatal(err)
			}
			out := strings.TrimSuffix(in, ".in.json") + ".out.json"
			cr, err := toConverse(&req, goldenDeployment)
			if strings.HasPrefix(name, "reject_") {
				if err == nil {
					t.Fatal("a reject_ case translated without error")
				}
				checkGolden(t, out, errorJSON(t, err))
				return
			}
			if err != nil {
				t.Fatalf("toConverse: %v", err)
			}
			checkGolden(t, out, cr)
		})
	}
}

// TestGolden_Responses: Converse answer -> canonical response, or the error.
func TestGolden_Responses(t *testing.T) {
	for _, in := range goldenInputs(t, "responses/*.converse.json") {
		name := strings.TrimSuffix(filepath.Base(in), ".converse.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var resp converseResponse
			if err := json.Unmarshal(raw, &resp); err != nil {
				t.Fatal(err)
			}
			out := strings.TrimSuffix(in, ".converse.json") + ".chat.json"
			got, err := fromConverse(&resp, goldenMeta)
			if err != nil {
				checkGolden(t, out, errorJSON(t, err))
				return
			}
			checkGolden(t, out, got)
		})
	}
}

// recordedEvent is one frame of a recorded stream, as the corpus stores it.
type recordedEvent struct {
	EventType     string          `json:"event-type,omitempty"`
	MessageType   string          `json:"message-type,omitempty"` // default "event"
	ExceptionType string          `json:"exception-type,omitempty"`
	Payload       json.RawMessage `json:"payload"`
}

// encodeEvents writes the recorded events as event-stream frames with the SDK's encoder.
func encodeEvents(events []recordedEvent) ([]byte, error) {
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, ev := range events {
		msg := eventstream.Message{Payload: ev.Payload}
		switch ev.MessageType {
		case "", "event":
			msg.Headers.Set(":event-type", eventstream.StringValue(ev.EventType))
			msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		default:
			msg.Headers.Set(":exception-type", eventstream.StringValue(ev.ExceptionType))
			msg.Headers.Set(":message-type", eventstream.StringValue(ev.MessageType))
		}
		msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		if err := enc.Encode(&buf, msg); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// streamOutcome is what a recorded stream translates to.
type streamOutcome struct {
	Chunks []*llm.ChatChunk `json:"chunks"`
	End    any              `json:"end"` // "EOF" or an error
}

func translateRecorded(t *testing.T, frames []byte) streamOutcome {
	t.Helper()
	s := newConverseStream(t.Context(), io.NopCloser(bytes.NewReader(frames)), goldenMeta)
	defer s.Close()
	out := streamOutcome{Chunks: []*llm.ChatChunk{}}
	for {
		c, err := s.Next()
		if errors.Is(err, io.EOF) {
			out.End = "EOF"
			return out
		}
		if err != nil {
			out.End = errorJSON(t, err)
			return out
		}
		out.Chunks = append(out.Chunks, c)
	}
}

// TestGolden_Streams: recorded ConverseStream events -> canonical chunks and end.
func TestGolden_Streams(t *testing.T) {
	for _, in := range goldenInputs(t, "streams/*.events.json") {
		name := strings.TrimSuffix(filepath.Base(in), ".events.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var events []recordedEvent
			if err := json.Unmarshal(raw, &events); err != nil {
				t.Fatal(err)
			}
			frames, err := encodeEvents(events)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, strings.TrimSuffix(in, ".events.json")+".chunks.json", translateRecorded(t, frames))
		})
	}
}
