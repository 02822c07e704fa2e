package vertex

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// synthIDPrefix marks tool-call ids this adapter made up because Gemini
// sent a call without one; such ids are never sent back to Gemini.
const synthIDPrefix = "call_vtx_"

// synthID returns a stable id for the n-th call of a candidate: replaying
// the same answer yields the same ids, and Gemini pairs the results with
// the calls by name and order, which translateMessages preserves.
func synthID(n int, name string, args []byte) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(args)
	return fmt.Sprintf("%s%d_%08x", synthIDPrefix, n, h.Sum32())
}

// respMeta is what a translated answer needs beyond Gemini's body.
type respMeta struct {
	deployment string
	model      string // the deployment's model id, used when Gemini names no version
	id         string // used when Gemini sends no responseId
	created    int64
}

// fromGemini translates a generateContent answer to a canonical response.
func fromGemini(resp *generateContentResponse, meta respMeta) (*llm.ChatResponse, error) {
	if resp.Error != nil {
		return nil, statusError(resp.Error, http.Header{}, meta.deployment)
	}
	if len(resp.Candidates) == 0 {
		return nil, noCandidatesError(resp.PromptFeedback, meta.deployment)
	}
	out := &llm.ChatResponse{
		ID:      meta.id,
		Object:  "chat.completion",
		Created: meta.created,
		Model:   meta.model,
		Choices: make([]llm.Choice, 0, len(resp.Candidates)),
		Usage:   toUsage(resp.UsageMetadata),
		Upstream: llm.Upstream{
			RequestID:    resp.ResponseID,
			ModelVersion: resp.ModelVersion,
			RateLimit:    llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1},
		},
	}
	if resp.ResponseID != "" {
		out.ID = "chatcmpl-" + resp.ResponseID
	}
	if resp.ModelVersion != "" {
		out.Model = resp.ModelVersion
	}
	for _, c := range resp.Candidates {
		msg := llm.Message{Role: llm.RoleAssistant}
		var text strings.Builder
		for _, p := range partsOf(c.Content) {
			switch {
			case p.FunctionCall != nil:
				msg.ToolCalls = append(msg.ToolCalls, toolCallOf(p, len(msg.ToolCalls)))
			case p.Thought:
				msg.ReasoningContent += p.Text
				msg.ThinkingBlocks = append(msg.ThinkingBlocks, llm.ThinkingBlock{Type: "thinking", Thinking: p.Text, Signature: p.ThoughtSignature})
			default:
				text.WriteString(p.Text)
				if p.ThoughtSignature != "" {
					msg.ThinkingBlocks = append(msg.ThinkingBlocks, llm.ThinkingBlock{Type: "thinking", Signature: p.ThoughtSignature})
				}
			}
		}
		// A call-only turn has null content, as OpenAI sends it; any other
		// turn with content has a string, even an empty one.
		if text.Len() > 0 || (c.Content != nil && len(msg.ToolCalls) == 0) {
			msg.Content = llm.TextContent(text.String())
		}
		out.Choices = append(out.Choices, llm.Choice{
			Index:        c.Index,
			Message:      msg,
			FinishReason: llm.FinishReason(finishReason(c.FinishReason, len(msg.ToolCalls) > 0)),
			Logprobs:     toLogprobs(c.LogprobsResult),
		})
	}
	return out, nil
}

func partsOf(c *content) []part {
	if c == nil {
		return nil
	}
	return c.Parts
}

func toolCallOf(p part, n int) llm.ToolCall {
	fc := p.FunctionCall
	args := string(fc.Args)
	if args == "" || args == "null" {
		args = "{}"
	}
	id := fc.ID
	if id == "" {
		id = synthID(n, fc.Name, []byte(args))
	}
	// The id carries the signature as well as the field: clients drop
	// fields they do not know but always return the id (see sigid.go).
	id = idWithSignature(id, p.ThoughtSignature)
	return llm.ToolCall{ID: id, Type: "function", Function: llm.FunctionCall{Name: fc.Name, Arguments: args}, ThoughtSignature: p.ThoughtSignature}
}

// finishReason maps Gemini's finish reason. Gemini says STOP after a
// function call too, so the parts decide between stop and tool_calls.
// Reasons with no OpenAI equivalent (MALFORMED_FUNCTION_CALL, OTHER, ...)
// pass through lowercased, so a client sees what happened.
func finishReason(r string, hasCalls bool) string {
	switch r {
	case "":
		return ""
	case "STOP":
		if hasCalls {
			return llm.FinishToolCalls
		}
		return llm.FinishStop
	case "MAX_TOKENS":
		return llm.FinishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY":
		return llm.FinishContentFilter
	default:
		return strings.ToLower(r)
	}
}

// toUsage maps Gemini's token counts. OpenAI counts reasoning inside
// completion_tokens; Gemini counts thoughts apart from candidates.
func toUsage(u *usageMetadata) *llm.Usage {
	if u == nil {
		return nil
	}
	completion := u.CandidatesTokenCount + u.ThoughtsTokenCount
	total := u.TotalTokenCount
	if total == 0 {
		total = u.PromptTokenCount + completion
	}
	return &llm.Usage{
		PromptTokens:            u.PromptTokenCount,
		CompletionTokens:        completion,
		TotalTokens:             total,
		PromptTokensDetails:     &llm.PromptTokensDetails{CachedTokens: u.CachedContentTokenCount},
		CompletionTokensDetails: &llm.CompletionTokensDetails{ReasoningTokens: u.ThoughtsTokenCount},
	}
}

type openAILogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
}

// toLogprobs renders Gemini's logprobsResult in OpenAI's choice.logprobs shape.
func toLogprobs(r *logprobsResult) json.RawMessage {
	if r == nil {
		return nil
	}
	items := make([]openAILogprob, len(r.ChosenCandidates))
	for i, c := range r.ChosenCandidates {
		items[i] = openAILogprob{Token: c.Token, Logprob: c.LogProbability, TopLogprobs: []topLogprob{}}
		if i < len(r.TopCandidates) {
			for _, t := range r.TopCandidates[i].Candidates {
				items[i].TopLogprobs = append(items[i].TopLogprobs, topLogprob{Token: t.Token, Logprob: t.LogProbability})
			}
		}
	}
	b, _ := json.Marshal(map[string]any{"content": items})
	return b
}

// noCandidatesError explains an answer with no candidates: a prompt the
// safety filters blocked is the caller's to rephrase (400 content_filter);
// anything else is a broken upstream answer.
func noCandidatesError(pf *promptFeedback, deployment string) *llm.Error {
	if pf != nil && pf.BlockReason != "" {
		detail := pf.BlockReason
		if pf.BlockReasonMessage != "" {
			detail += ": " + pf.BlockReasonMessage
		}
		e := llm.BadRequest("messages", "Vertex AI deployment %q blocked the prompt (blockReason %s); rephrase the request", deployment, detail).WithCode(llm.FinishContentFilter)
		e.Upstream = true
		return e
	}
	e := llm.Errorf(http.StatusBadGateway, "Vertex AI deployment %q returned no candidates and no reason; retry the request", deployment)
	e.Upstream = true
	return e
}
