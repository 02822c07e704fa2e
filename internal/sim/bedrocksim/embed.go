package bedrocksim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/openaisim"
)

// embedKind tells which embedding model family a model id names, also
// behind a cross-region prefix.
func embedKind(model string) string {
	if i := strings.LastIndex(model, "/"); i >= 0 {
		model = model[i+1:]
	}
	if _, rest, ok := strings.Cut(model, "."); ok && !strings.HasPrefix(model, "amazon.") && !strings.HasPrefix(model, "cohere.") {
		model = rest
	}
	switch {
	case strings.HasPrefix(model, "amazon.titan-embed"):
		return "titan"
	case strings.HasPrefix(model, "cohere.embed"):
		return "cohere"
	}
	return ""
}

// invoke serves InvokeModel for the embedding models.
func (s *server) invoke(w http.ResponseWriter, r *http.Request, body []byte, n int64) {
	model := r.PathValue("modelId")
	switch embedKind(model) {
	case "titan":
		var req struct {
			InputText  *string `json:"inputText"`
			Dimensions int     `json:"dimensions"`
		}
		if json.Unmarshal(body, &req) != nil || req.InputText == nil || *req.InputText == "" {
			validation(w, "Malformed input request: #: required key [inputText] not found, please reformat your input and try again.")
			return
		}
		dims := req.Dimensions
		switch dims {
		case 0:
			dims = 1024
		case 256, 512, 1024:
		default:
			validation(w, "Malformed input request: #/dimensions: "+strconv.Itoa(dims)+" is not a valid enum value, please reformat your input and try again.")
			return
		}
		tokens := sim.CountTokens(*req.InputText)
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(tokens))
		writeJSON(w, map[string]any{"embedding": openaisim.Vector(*req.InputText, dims), "inputTextTokenCount": tokens})
	case "cohere":
		var req struct {
			Texts     []string `json:"texts"`
			InputType string   `json:"input_type"`
		}
		if json.Unmarshal(body, &req) != nil || len(req.Texts) == 0 || req.InputType == "" {
			validation(w, "Malformed input request: #: required key [texts, input_type] not found, please reformat your input and try again.")
			return
		}
		embs := make([][]float32, len(req.Texts))
		tokens := 0
		for i, t := range req.Texts {
			embs[i] = openaisim.Vector(t, 1024)
			tokens += sim.CountTokens(t)
		}
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(tokens))
		writeJSON(w, map[string]any{"id": "emb-sim-" + strconv.FormatInt(n, 10), "embeddings": embs, "response_type": "embeddings_floats", "texts": req.Texts})
	default:
		validation(w, "The simulated InvokeModel serves embedding models only (amazon.titan-embed*, cohere.embed*); use Converse for "+model+".")
	}
}
