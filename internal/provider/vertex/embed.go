package vertex

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
)

type predictRequest struct {
	Instances  []embedInstance  `json:"instances"`
	Parameters *embedParameters `json:"parameters,omitempty"`
}

type embedInstance struct {
	Content string `json:"content"`
}

type embedParameters struct {
	OutputDimensionality *int `json:"outputDimensionality,omitempty"`
}

type predictResponse struct {
	Predictions []struct {
		Embeddings struct {
			Values     []float32 `json:"values"`
			Statistics struct {
				TokenCount float64 `json:"token_count"`
			} `json:"statistics"`
		} `json:"embeddings"`
	} `json:"predictions"`
}

// Embeddings embeds text with a Vertex AI text-embedding model (:predict).
func (g *gemini) Embeddings(ctx context.Context, req *llm.EmbeddingRequest) (*llm.EmbeddingResponse, error) {
	pr, err := toPredict(req, g.deployment.Name)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(pr)
	if err != nil {
		return nil, llm.Errorf(http.StatusBadRequest, "the request cannot be encoded for Vertex AI deployment %q: %v", g.deployment.Name, err)
	}
	var resp predictResponse
	if err := g.postJSON(ctx, "predict", body, &resp); err != nil {
		return nil, err
	}
	return fromPredict(&resp, req, g.deployment)
}

func toPredict(req *llm.EmbeddingRequest, deployment string) (*predictRequest, error) {
	if err := rejectExtra(req.Extra, "", deployment); err != nil {
		return nil, err
	}
	if req.Input.Tokens != nil {
		return nil, llm.BadRequest("input", "Vertex AI deployment %q embeds text only; send strings, not token ids", deployment)
	}
	if len(req.Input.Texts) == 0 {
		return nil, llm.BadRequest("input", "input has no text to embed")
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, llm.BadRequest("encoding_format", "encoding_format %q is not one of float, base64", req.EncodingFormat)
	}
	pr := &predictRequest{Instances: make([]embedInstance, len(req.Input.Texts))}
	for i, t := range req.Input.Texts {
		pr.Instances[i] = embedInstance{Content: t}
	}
	if req.Dimensions != nil {
		pr.Parameters = &embedParameters{OutputDimensionality: req.Dimensions}
	}
	return pr, nil
}

func fromPredict(resp *predictResponse, req *llm.EmbeddingRequest, dep provider.Deployment) (*llm.EmbeddingResponse, error) {
	if len(resp.Predictions) != len(req.Input.Texts) {
		e := llm.Errorf(http.StatusBadGateway, "Vertex AI deployment %q returned %d embeddings for %d inputs; retry the request", dep.Name, len(resp.Predictions), len(req.Input.Texts))
		e.Upstream = true
		return nil, e
	}
	out := &llm.EmbeddingResponse{Object: "list", Model: dep.Model, Data: make([]llm.Embedding, len(resp.Predictions))}
	tokens := 0
	for i, p := range resp.Predictions {
		out.Data[i] = llm.Embedding{Object: "embedding", Index: i, Embedding: llm.Vector{Floats: p.Embeddings.Values, Base64: req.EncodingFormat == "base64"}}
		tokens += int(p.Embeddings.Statistics.TokenCount)
	}
	out.Usage = llm.EmbeddingUsage{PromptTokens: tokens, TotalTokens: tokens}
	out.Upstream.RateLimit = llm.RateLimit{RemainingRequests: -1, RemainingTokens: -1}
	return out, nil
}
