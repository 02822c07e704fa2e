package llm

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
)

// EmbeddingRequest is OpenAI's POST /v1/embeddings body.
type EmbeddingRequest struct {
	Model          string         `json:"model"`
	Input          EmbeddingInput `json:"input"`
	EncodingFormat string         `json:"encoding_format,omitempty"` // "float" or "base64"
	Dimensions     *int           `json:"dimensions,omitempty"`
	User           string         `json:"user,omitempty"`

	// Extra holds the request fields Switchyard does not model.
	Extra map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the request and keeps unknown fields in Extra.
func (r *EmbeddingRequest) UnmarshalJSON(b []byte) error {
	var a embedRequestAlias
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	extra, err := unknownFields(b, embedRequestFields)
	if err != nil {
		return err
	}
	a.Extra = extra
	*r = EmbeddingRequest(a)
	return nil
}

// MarshalJSON encodes the request with its Extra fields.
func (r EmbeddingRequest) MarshalJSON() ([]byte, error) {
	return marshalWithExtra(embedRequestAlias(r), r.Extra)
}

// EmbeddingInput is the text (or pre-tokenised input) to embed. OpenAI
// accepts a string, an array of strings, an array of token ids or an array
// of such arrays; Texts is set for the first two, Raw always.
type EmbeddingInput struct {
	Texts []string
	// Tokens is set when the input was token ids (one slice per input).
	Tokens [][]int
	// single records that the input was one bare string.
	single bool
}

// TextInput returns input of one or more strings.
func TextInput(texts ...string) EmbeddingInput { return EmbeddingInput{Texts: texts} }

// Len returns the number of inputs.
func (in EmbeddingInput) Len() int {
	if in.Tokens != nil {
		return len(in.Tokens)
	}
	return len(in.Texts)
}

// MarshalJSON writes the input in the shape it was read in.
func (in EmbeddingInput) MarshalJSON() ([]byte, error) {
	switch {
	case in.Tokens != nil:
		if len(in.Tokens) == 1 && in.single {
			return json.Marshal(in.Tokens[0])
		}
		return json.Marshal(in.Tokens)
	case in.single && len(in.Texts) == 1:
		return json.Marshal(in.Texts[0])
	default:
		if in.Texts == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(in.Texts)
	}
}

// UnmarshalJSON reads every input shape OpenAI accepts.
func (in *EmbeddingInput) UnmarshalJSON(b []byte) error {
	*in = EmbeddingInput{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return errors.New("input is empty")
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		in.Texts, in.single = []string{s}, true
		return nil
	}
	var texts []string
	if err := json.Unmarshal(b, &texts); err == nil {
		in.Texts = texts
		return nil
	}
	var tokens []int
	if err := json.Unmarshal(b, &tokens); err == nil {
		in.Tokens, in.single = [][]int{tokens}, true
		return nil
	}
	var many [][]int
	if err := json.Unmarshal(b, &many); err == nil {
		in.Tokens = many
		return nil
	}
	return errors.New("input must be a string, an array of strings, or an array of token arrays")
}

// EmbeddingResponse is OpenAI's embeddings answer.
type EmbeddingResponse struct {
	Object   string         `json:"object"` // "list"
	Data     []Embedding    `json:"data"`
	Model    string         `json:"model"`
	Usage    EmbeddingUsage `json:"usage"`
	Upstream Upstream       `json:"-"`
}

// EmbeddingUsage counts the tokens embedded.
type EmbeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// Embedding is one vector.
type Embedding struct {
	Object    string `json:"object"` // "embedding"
	Index     int    `json:"index"`
	Embedding Vector `json:"embedding"`
}

// Vector is an embedding, written as floats or, when Base64 is set, as
// base64 of little-endian float32s (encoding_format "base64").
type Vector struct {
	Floats []float32
	Base64 bool
}

// MarshalJSON writes the floats or their base64 form.
func (v Vector) MarshalJSON() ([]byte, error) {
	if v.Base64 {
		buf := make([]byte, 4*len(v.Floats))
		for i, f := range v.Floats {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
		}
		return json.Marshal(base64.StdEncoding.EncodeToString(buf))
	}
	if v.Floats == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(v.Floats)
}

// UnmarshalJSON reads floats or base64.
func (v *Vector) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw)%4 != 0 {
			return errors.New("embedding is not base64 of float32 values")
		}
		v.Floats = make([]float32, len(raw)/4)
		for i := range v.Floats {
			v.Floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		v.Base64 = true
		return nil
	}
	v.Base64 = false
	return json.Unmarshal(b, &v.Floats)
}
