package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// TestAzureContentFilterResultsReachTheClient: Azure OpenAI rates every
// prompt and every choice for hate, violence and the like. Clients read
// those verdicts to learn why an answer stopped at content_filter, so the
// gateway hands them on as the SDK would see them from Azure directly.
func TestAzureContentFilterResultsReachTheClient(t *testing.T) {
	e := start(t, parityConfig)
	c := e.client(testKey)
	params := openai.ChatCompletionNewParams{
		Model:    "parity-azure",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
	}
	resp, err := c.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.RawJSON(), `"prompt_filter_results"`) {
		t.Errorf("answer lacks prompt_filter_results: %s", resp.RawJSON())
	}
	if len(resp.Choices) != 1 || !strings.Contains(resp.Choices[0].RawJSON(), `"content_filter_results":{"`) {
		t.Errorf("choice lacks content_filter_results: %s", resp.RawJSON())
	}

	stream := c.Chat.Completions.NewStreaming(context.Background(), params)
	defer stream.Close()
	rated := 0
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			if strings.Contains(ch.RawJSON(), `"content_filter_results"`) {
				rated++
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if rated == 0 {
		t.Error("no streamed choice carried content_filter_results")
	}
}
