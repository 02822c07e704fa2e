package openaisim

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/internal/sim"
)

// DefaultDimensions is the vector length when the request sets no
// dimensions and the model is not a known large one.
const DefaultDimensions = 1536

type embedRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
}

type embedResponse struct {
	Object string        `json:"object"`
	Data   []embedObject `json:"data"`
	Model  string        `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

type embedObject struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

// Embed answers an embeddings request body with deterministic unit
// vectors derived from a hash of each input, so equal texts embed equally.
// serves reports whether a model is served.
func Embed(body []byte, serves func(model string) bool) (any, *APIError) {
	var req embedRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: "We could not parse the JSON body of your request."}
	}
	if req.Model == "" {
		return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "model", Message: "you must provide a model parameter"}
	}
	if !serves(req.Model) {
		return nil, modelNotFound(req.Model)
	}
	inputs, tokens, err := embedInputs(req.Input)
	if err != nil {
		return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "input", Message: err.Error()}
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "encoding_format",
			Message: fmt.Sprintf("Invalid value: '%s'. Supported values are: 'float' and 'base64'.", req.EncodingFormat)}
	}
	dims := DefaultDimensions
	if strings.Contains(req.Model, "large") {
		dims = 3072
	}
	if req.Dimensions != nil {
		if *req.Dimensions < 1 || *req.Dimensions > dims {
			return nil, &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "dimensions",
				Message: fmt.Sprintf("Invalid value for 'dimensions': %d. It must be between 1 and %d.", *req.Dimensions, dims)}
		}
		dims = *req.Dimensions
	}
	resp := embedResponse{Object: "list", Model: req.Model, Data: make([]embedObject, len(inputs))}
	for i, in := range inputs {
		vec := Vector(in, dims)
		var enc any = vec
		if req.EncodingFormat == "base64" {
			buf := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(f))
			}
			enc = base64.StdEncoding.EncodeToString(buf)
		}
		resp.Data[i] = embedObject{Object: "embedding", Index: i, Embedding: enc}
	}
	resp.Usage.PromptTokens, resp.Usage.TotalTokens = tokens, tokens
	return resp, nil
}

// embedInputs reads a string, strings, token ids or arrays of token ids,
// returning one hashable text per input and the token count billed.
func embedInputs(raw json.RawMessage) ([]string, int, error) {
	raw = bytes.TrimSpace(raw)
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, 0, fmt.Errorf("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
		}
		return []string{one}, sim.CountTokens(one), nil
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		n := 0
		for _, s := range many {
			n += sim.CountTokens(s)
		}
		return many, n, nil
	}
	var ids []int
	if json.Unmarshal(raw, &ids) == nil && len(ids) > 0 {
		return []string{intsKey(ids)}, len(ids), nil
	}
	var idss [][]int
	if json.Unmarshal(raw, &idss) == nil && len(idss) > 0 {
		out, n := make([]string, len(idss)), 0
		for i, ids := range idss {
			out[i], n = intsKey(ids), n+len(ids)
		}
		return out, n, nil
	}
	return nil, 0, fmt.Errorf("'input' must be a non-empty string, array of strings, array of token ids, or array of token arrays")
}

func intsKey(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.Itoa(id))
		b.WriteByte(',')
	}
	return b.String()
}

// Vector returns the fake's deterministic unit vector of dims for text.
func Vector(text string, dims int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	state := h.Sum64()
	vec := make([]float32, dims)
	var norm float64
	for i := range vec {
		// splitmix64: a cheap, well-mixed sequence from the text's hash.
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		f := float64(z>>11)/float64(1<<53)*2 - 1
		vec[i] = float32(f)
		norm += f * f
	}
	norm = math.Sqrt(norm)
	if norm > 0 {
		for i := range vec {
			vec[i] = float32(float64(vec[i]) / norm)
		}
	}
	return vec
}
