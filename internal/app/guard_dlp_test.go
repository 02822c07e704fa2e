package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

const (
	card  = "4111 1111 1111 1111"
	email = "jane.doe@example.com"
)

// TestRedactAndRestore: the cloud never sees the card number or the
// e-mail address; the client gets them back in the echoed answer.
func TestRedactAndRestore(t *testing.T) {
	e := start(t, guardConfig(""))
	eng := e.fleet.Clouds["openai"].Engine
	c := e.client(testKey)
	prompt := "My card is " + card + " and my mail is " + email + ", please confirm."
	params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}}
	tests := []struct {
		name string
		run  func(t *testing.T) string
	}{
		{"plain", func(t *testing.T) string {
			r, err := c.Chat.Completions.New(context.Background(), params)
			if err != nil {
				t.Fatal(err)
			}
			return r.Choices[0].Message.Content
		}},
		{"stream", func(t *testing.T) string { return streamAll(t, c, params).Choices[0].Message.Content }},
		// With usage asked for, chunks nobody changes leave as the cloud
		// sent them; the restored ones must not.
		{"stream with usage", func(t *testing.T) string {
			p := params
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			return streamAll(t, c, p).Choices[0].Message.Content
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng.Recorder().Reset()
			got := tt.run(t)
			mustContain(t, "answer", got, card, email)
			if strings.Contains(got, "[CARD_1]") || strings.Contains(got, "[EMAIL_1]") {
				t.Errorf("the client received a placeholder: %q", got)
			}
			if eng.Recorder().Contains("4111") || eng.Recorder().Contains(email) {
				t.Errorf("the cloud received the original values")
			}
			if !eng.Recorder().Contains("[CARD_1]") || !eng.Recorder().Contains("[EMAIL_1]") {
				t.Errorf("the cloud did not receive placeholders: %+v", eng.Recorder().Requests())
			}
		})
	}
}

// TestDLPBlock: a blocked detector is a 400 that names the detector and
// never echoes the secret; nothing reaches the cloud.
func TestDLPBlock(t *testing.T) {
	e := start(t, guardConfig(""))
	eng := e.fleet.Clouds["openai"].Engine
	secret := "AKIAIOSFODNN7EXAMPLE"
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"deploy with key ` + secret + `"}]}`
	for _, stream := range []bool{false, true} {
		b := body
		if stream {
			b = strings.Replace(body, `{"model"`, `{"stream":true,"model"`, 1)
		}
		status, _, resp := e.do(http.MethodPost, "/v1/chat/completions", testKey, b)
		if status != http.StatusBadRequest {
			t.Fatalf("stream=%v: status %d, want 400; body %s", stream, status, resp)
		}
		mustContain(t, "error", resp, `"code":"dlp_blocked"`, `aws_access_key`, "remove it and try again")
		if strings.Contains(resp, secret) {
			t.Errorf("the error echoes the secret: %s", resp)
		}
	}
	if n := eng.Recorder().Count(); n != 0 {
		t.Errorf("the cloud received %d requests", n)
	}
}
