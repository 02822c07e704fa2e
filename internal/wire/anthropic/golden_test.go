package anthropic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/sse"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// goldenOptions are the deployment options every from_chat case uses.
var goldenOptions = RequestOptions{Model: "claude-sonnet-4-5", Deployment: "claude-prod", DefaultMaxTokens: 1024}

// Each testdata/<dir>/<case>.<ext> input has a <case>.golden next to it.
var goldenSuites = []struct {
	dir, ext  string
	translate func(in []byte) ([]byte, error)
}{
	{"from_chat", ".json", goldenFromChat},
	{"to_chat", ".json", goldenToChat},
	{"to_chat_response", ".json", goldenToChatResponse},
	{"from_chat_response", ".json", goldenFromChatResponse},
	{"stream_to_chat", ".sse", goldenStreamToChat},
	{"stream_from_chat", ".jsonl", goldenStreamFromChat},
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, s := range goldenSuites {
		files, err := filepath.Glob(filepath.Join("testdata", s.dir, "*"+s.ext))
		if err != nil || len(files) == 0 {
			t.Fatalf("no golden inputs in testdata/%s: %v", s.dir, err)
		}
		for _, in := range files {
			name := s.dir + "/" + strings.TrimSuffix(filepath.Base(in), s.ext)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				input, err := os.ReadFile(in)
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.translate(input)
				if err != nil {
					t.Fatalf("translate: %v", err)
				}
				golden := strings.TrimSuffix(in, s.ext) + ".golden"
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from its golden file\ngot:\n%s\nwant:\n%s", name, got, want)
				}
			})
		}
	}
}

// indent renders v as stable, readable JSON; an *llm.Error becomes
// {"error":{status,type,param,message}} so reject cases are goldens too.
func indent(v any, err error) ([]byte, error) {
	if err != nil {
		var le *llm.Error
		if !errors.As(err, &le) {
			return nil, fmt.Errorf("translation returned a non-*llm.Error: %w", err)
		}
		v = map[string]any{"error": map[string]any{"status": le.Status, "type": le.Type, "param": le.Param, "message": le.Message}}
	}
	b, merr := json.Marshal(v)
	if merr != nil {
		return nil, merr
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func goldenFromChat(in []byte) ([]byte, error) {
	var req llm.ChatRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, err
	}
	before, _ := json.Marshal(req)
	out, err := FromChat(&req, goldenOptions)
	after, _ := json.Marshal(req)
	if !bytes.Equal(before, after) {
		return nil, errors.New("FromChat modified the caller's request")
	}
	return indent(out, err)
}

func goldenToChat(in []byte) ([]byte, error) {
	var req MessagesRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, err
	}
	out, err := ToChat(&req)
	return indent(out, err)
}

func goldenToChatResponse(in []byte) ([]byte, error) {
	var resp MessagesResponse
	if err := json.Unmarshal(in, &resp); err != nil {
		return nil, err
	}
	out, err := ToChatResponse(&resp)
	return indent(out, err)
}

func goldenFromChatResponse(in []byte) ([]byte, error) {
	var resp llm.ChatResponse
	if err := json.Unmarshal(in, &resp); err != nil {
		return nil, err
	}
	out, err := FromChatResponse(&resp)
	return indent(out, err)
}

// goldenStreamToChat writes one chunk per line, then "END: complete",
// "END: truncated" or "ERROR: ...".
func goldenStreamToChat(in []byte) ([]byte, error) {
	tr := NewStreamTranslator(1735689600)
	r := sse.NewReader(bytes.NewReader(in))
	var out bytes.Buffer
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			if tr.Done() {
				out.WriteString("END: complete\n")
			} else {
				out.WriteString("END: truncated\n")
			}
			return out.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		chunks, err := tr.Event(ev.Event, ev.Data)
		if err != nil {
			var le *llm.Error
			if !errors.As(err, &le) {
				return nil, err
			}
			fmt.Fprintf(&out, "ERROR: %d %s upstream=%v: %s\n", le.Status, le.Type, le.Upstream, le.Message)
			return out.Bytes(), nil
		}
		for _, c := range chunks {
			b, err := json.Marshal(c)
			if err != nil {
				return nil, err
			}
			out.Write(b)
			out.WriteByte('\n')
		}
	}
}

// goldenStreamFromChat reads one chunk per line; a line `ERROR <status>
// <message>` ends the stream with an error, otherwise it ends cleanly.
func goldenStreamFromChat(in []byte) ([]byte, error) {
	enc := NewEventEncoder("msg_gw_1", "claude-sonnet-4-5")
	var out bytes.Buffer
	write := func(evs []Event) {
		for _, ev := range evs {
			fmt.Fprintf(&out, "event: %s\ndata: %s\n\n", ev.Name, ev.Data)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(in))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "ERROR "); ok {
			var status int
			var msg string
			if _, err := fmt.Sscanf(rest, "%d", &status); err != nil {
				return nil, err
			}
			_, msg, _ = strings.Cut(rest, " ")
			write([]Event{enc.Error(llm.Errorf(status, "%s", msg))})
			return out.Bytes(), nil
		}
		var c llm.ChatChunk
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return nil, err
		}
		write(enc.Chunk(&c))
	}
	write(enc.Finish())
	return out.Bytes(), sc.Err()
}
