package bedrock

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/switchyard/switchyard/internal/llm"
)

// maxEmbedInputs mirrors OpenAI's limit on inputs per request.
const maxEmbedInputs = 2048

type titanRequest struct {
	InputText  string `json:"inputText"`
	Dimensions *int   `json:"dimensions,omitempty"`
	Normalize  bool   `json:"normalize"`
}

type titanResponse struct {
	Embedding           []float32 `json:"embedding"`
	InputTextTokenCount int       `json:"inputTextTokenCount"`
}

type cohereRequest struct {
	Texts     []string `json:"texts"`
	InputType string   `json:"input_type"`
}

type cohereResponse struct {
	Embeddings [][]float32 `json:"embeddings"`
}

// Embeddings calls InvokeModel: once per input for Titan, once for all
// inputs for Cohere (input_type search_document, the right type for text
// stored in an index; queries embed the same way through this API).
func (c *client) Embeddings(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	if err := c.checkEmbedding(req); err != nil {
		return nil, err
	}
	out := &llm.EmbeddingResponse{Object: "list", Model: c.deployment.Model, Data: make([]llm.Embedding, 0, len(req.Input.Texts))}
	b64 := req.EncodingFormat == "base64"
	switch c.embedFormat {
	case EmbeddingTitan:
		for i, text := range req.Input.Texts {
			body, _ := json.Marshal(titanRequest{InputText: text, Dimensions: req.Dimensions, Normalize: true})
			var tr titanResponse
			h, err := c.postJSON(ctx, "invoke", body, &tr)
			if err != nil {
				return nil, err
			}
			if len(tr.Embedding) == 0 {
				return nil, upstreamBroken(c.ec(), "returned no embedding")
			}
			tokens := tr.InputTextTokenCount
			if tokens == 0 {
				tokens = headerTokens(h)
			}
			out.Usage.PromptTokens += tokens
			out.Data = append(out.Data, llm.Embedding{Object: "embedding", Index: i, Embedding: llm.Vector{Floats: tr.Embedding, Base64: b64}})
			out.Upstream.RequestID = h.Get("X-Amzn-Requestid")
		}
	case EmbeddingCohere:
		body, _ := json.Marshal(cohereRequest{Texts: req.Input.Texts, InputType: "search_document"})
		var cr cohereResponse
		h, err := c.postJSON(ctx, "invoke", body, &cr)
		if err != nil {
			return nil, err
		}
		if len(cr.Embeddings) != len(req.Input.Texts) {
			return nil, upstreamBroken(c.ec(), "returned "+strconv.Itoa(len(cr.Embeddings))+" embeddings for "+strconv.Itoa(len(req.Input.Texts))+" inputs")
		}
		for i, v := range cr.Embeddings {
			out.Data = append(out.Data, llm.Embedding{Object: "embedding", Index: i, Embedding: llm.Vector{Floats: v, Base64: b64}})
		}
		out.Usage.PromptTokens = headerTokens(h)
		out.Upstream.RequestID = h.Get("X-Amzn-Requestid")
	}
	out.Usage.TotalTokens = out.Usage.PromptTokens
	out.Upstream.RateLimit = llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}
	return out, nil
}

// headerTokens reads the input token count InvokeModel reports in a header.
func headerTokens(h http.Header) int {
	n, _ := strconv.Atoi(h.Get("X-Amzn-Bedrock-Input-Token-Count"))
	return n
}

func (c *client) checkEmbedding(req *llm.EmbeddingRequest) error {
	name := c.deployment.Name
	if c.embedFormat == "" {
		return llm.BadRequest("model", "Bedrock deployment %q (model %q) is not configured for embeddings; the operator must set embedding_format (titan or cohere) or use an amazon.titan-embed or cohere.embed model", name, c.deployment.Model)
	}
	if keys := sortedKeys(req.Extra); len(keys) > 0 {
		return llm.BadRequest(keys[0], "field %q is not supported for embeddings by Bedrock deployment %q; remove it", keys[0], name)
	}
	switch {
	case req.Input.Tokens != nil:
		return llm.BadRequest("input", "Bedrock deployment %q embeds text only; send input as a string or an array of strings, not token ids", name)
	case len(req.Input.Texts) == 0:
		return llm.BadRequest("input", "input is empty; send at least one text to embed (deployment %q)", name)
	case len(req.Input.Texts) > maxEmbedInputs:
		return llm.BadRequest("input", "at most %d inputs per request (deployment %q); split the request", maxEmbedInputs, name)
	case req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64":
		return llm.BadRequest("encoding_format", "encoding_format must be float or base64 (deployment %q)", name)
	case req.Dimensions != nil && c.embedFormat == EmbeddingCohere:
		return llm.BadRequest("dimensions", "Cohere embed on Bedrock deployment %q has a fixed size; remove dimensions", name)
	case req.Dimensions != nil && *req.Dimensions != 256 && *req.Dimensions != 512 && *req.Dimensions != 1024:
		return llm.BadRequest("dimensions", "Titan embeddings on Bedrock deployment %q support dimensions 256, 512 or 1024, not %d", name, *req.Dimensions)
	}
	for i, t := range req.Input.Texts {
		if t == "" {
			return llm.BadRequest("input", "input[%d] is empty; Bedrock deployment %q cannot embed empty text", i, name)
		}
	}
	return nil
}
