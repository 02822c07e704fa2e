package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAdminFaults(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		want   Faults
	}{
		{"duration strings", `{"error_rate":0.5,"error_status":429,"retry_after":"2s","latency":"250ms"}`, 200,
			Faults{ErrorRate: 0.5, ErrorStatus: 429, RetryAfter: 2 * time.Second, Latency: 250 * time.Millisecond}},
		{"nanoseconds", `{"chunk_delay":1000000}`, 200, Faults{ChunkDelay: time.Millisecond}},
		{"outage", `{"down":true}`, 200, Faults{Down: true}},
		{"bad duration", `{"latency":"soon"}`, 400, Faults{}},
		{"not json", `{`, 400, Faults{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine("test")
			rec := httptest.NewRecorder()
			e.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/_sim/faults", strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if got := e.Faults(); got != tt.want {
				t.Errorf("faults %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestScriptAnswer(t *testing.T) {
	s := &Script{Rules: []Rule{
		{Contains: "weather", Reply: Reply{ToolCalls: []ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{AfterToolResult: true, Reply: Reply{Text: "It is sunny."}},
	}}
	tests := []struct {
		name       string
		prompt     Prompt
		wantText   string
		wantTools  int
		wantFinish string
	}{
		{"tool call", Prompt{LastUser: "What's the WEATHER?"}, "", 1, "tool_calls"},
		{"after tool", Prompt{LastUser: "What's the weather?", HasToolResult: true, ToolResult: "21C"}, "It is sunny.", 0, "stop"},
		{"default echo", Prompt{Model: "m", LastUser: "hi"}, "Simulated answer from m to: hi", 0, "stop"},
		{"length cap", Prompt{Model: "m", LastUser: "one two three four", MaxTokens: 2}, "Simulated answer", 0, "length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Answer(tt.prompt)
			if r.Text != tt.wantText || len(r.ToolCalls) != tt.wantTools || r.FinishReason != tt.wantFinish {
				t.Errorf("got %+v", r)
			}
			if r.CompletionTokens < 1 {
				t.Errorf("completion tokens %d", r.CompletionTokens)
			}
		})
	}
}

func TestPiecesRestoreText(t *testing.T) {
	for _, s := range []string{"", "a", "hello world", " leading and trailing ", "x  y"} {
		if got := strings.Join(Pieces(s), ""); got != s {
			t.Errorf("Pieces(%q) joined = %q", s, got)
		}
	}
}
