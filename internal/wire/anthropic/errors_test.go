package anthropic

import (
	"encoding/json"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestErrorBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   string
	}{
		{400, "invalid_request_error"}, {401, "authentication_error"}, {403, "permission_error"},
		{404, "not_found_error"}, {413, "request_too_large"}, {429, "rate_limit_error"},
		{500, "api_error"}, {502, "api_error"}, {503, "overloaded_error"}, {529, "overloaded_error"},
		{504, "timeout_error"}, {422, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(llm.TypeForStatus(tt.status), func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(ErrorBody(llm.Errorf(tt.status, "what to do"), "req_1"))
			if err != nil {
				t.Fatal(err)
			}
			want := `{"type":"error","error":{"type":"` + tt.want + `","message":"what to do"},"request_id":"req_1"}`
			if string(b) != want {
				t.Errorf("status %d: got %s, want %s", tt.status, b, want)
			}
			typ, msg := ParseError(b)
			if typ != tt.want || msg != "what to do" {
				t.Errorf("ParseError = %q, %q", typ, msg)
			}
		})
	}
}

func TestStreamError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ    string
		status int
	}{
		{"overloaded_error", 503}, {"rate_limit_error", 429}, {"api_error", 502},
		{"invalid_request_error", 400}, {"request_too_large", 413}, {"timeout_error", 504}, {"brand_new_error", 502},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			t.Parallel()
			e := StreamError(tt.typ, "boom")
			if e.Status != tt.status || !e.Upstream || e.Message == "" {
				t.Errorf("%s -> %+v", tt.typ, e)
			}
		})
	}
}

func TestParseErrorOnNonJSON(t *testing.T) {
	t.Parallel()
	if typ, msg := ParseError([]byte("<html>502 Bad Gateway</html>")); typ != "" || msg != "" {
		t.Errorf("ParseError(html) = %q, %q", typ, msg)
	}
}
