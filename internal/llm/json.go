package llm

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	json "github.com/segmentio/encoding/json"
)

// Content is a message's content: a plain string, a list of parts, or null.
type Content struct {
	// Text is the content when it was sent as a plain string.
	Text string
	// Parts is the content when it was sent as a list of parts; nil otherwise.
	Parts []Part
	// isText marks Text as present, so that "" and null stay distinct.
	isText bool
}

// TextContent returns string content.
func TextContent(s string) Content { return Content{Text: s, isText: true} }

// PartsContent returns multi-part content.
func PartsContent(parts ...Part) Content {
	if parts == nil {
		parts = []Part{}
	}
	return Content{Parts: parts}
}

// IsNull reports whether the content is JSON null (absent).
func (c Content) IsNull() bool { return !c.isText && c.Parts == nil }

// String returns the text of the content, joining text parts with no separator.
func (c Content) String() string {
	if c.Parts == nil {
		return c.Text
	}
	var b strings.Builder
	for _, p := range c.Parts {
		if p.Type == PartText {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// MarshalJSON writes a string, an array of parts or null.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.Parts != nil:
		return json.Marshal(c.Parts)
	case c.isText:
		return json.Marshal(c.Text)
	default:
		return []byte("null"), nil
	}
}

// UnmarshalJSON reads a string, an array of parts or null.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		c.isText = true
		return json.Unmarshal(b, &c.Text)
	case b[0] == '[':
		var parts []Part
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		if parts == nil {
			parts = []Part{}
		}
		c.Parts = parts
		return nil
	default:
		return errors.New("content must be a string, an array of content parts, or null")
	}
}

// Stop is one stop sequence or several; it accepts a string or an array.
type Stop []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (s *Stop) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = Stop{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("stop must be a string or an array of strings")
	}
	*s = many
	return nil
}

// ToolChoice says whether and which tool the model must call.
type ToolChoice struct {
	// Mode is "none", "auto" or "required"; empty when Function is set.
	Mode string
	// Function names the one function the model must call.
	Function string
}

// Tool choice modes.
const (
	ToolChoiceNone     = "none"
	ToolChoiceAuto     = "auto"
	ToolChoiceRequired = "required"
)

type namedToolChoice struct {
	Type     string `json:"type"`
	Function struct {
		Name string `json:"name"`
	} `json:"function"`
}

// MarshalJSON writes a mode string or a named-function object.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Function != "" {
		var n namedToolChoice
		n.Type = "function"
		n.Function.Name = t.Function
		return json.Marshal(n)
	}
	return json.Marshal(t.Mode)
}

// UnmarshalJSON reads a mode string or a named-function object.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*t = ToolChoice{}
		if err := json.Unmarshal(b, &t.Mode); err != nil {
			return err
		}
		switch t.Mode {
		case ToolChoiceNone, ToolChoiceAuto, ToolChoiceRequired:
			return nil
		}
		return fmt.Errorf("tool_choice %q is not one of none, auto, required", t.Mode)
	}
	var n namedToolChoice
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New(`tool_choice must be "none", "auto", "required" or {"type":"function","function":{"name":...}}`)
	}
	if n.Type != "function" || n.Function.Name == "" {
		return errors.New(`tool_choice object must be {"type":"function","function":{"name":...}}`)
	}
	*t = ToolChoice{Function: n.Function.Name}
	return nil
}

// The types below carry unknown JSON fields in Extra. Each pair of methods
// decodes through an alias type (so the default decoding runs) and then
// collects the keys the struct does not declare.

type (
	chatRequestAlias  ChatRequest
	chatResponseAlias ChatResponse
	chatChunkAlias    ChatChunk
	partAlias         Part
	embedRequestAlias EmbeddingRequest
)

var (
	chatRequestFields  = jsonFields(reflect.TypeFor[ChatRequest]())
	chatResponseFields = jsonFields(reflect.TypeFor[ChatResponse]())
	chatChunkFields    = jsonFields(reflect.TypeFor[ChatChunk]())
	partFields         = jsonFields(reflect.TypeFor[Part]())
	embedRequestFields = jsonFields(reflect.TypeFor[EmbeddingRequest]())
)

// UnmarshalJSON decodes the request and keeps unknown fields in Extra.
func (r *ChatRequest) UnmarshalJSON(b []byte) error {
	var a chatRequestAlias
	// Most requests carry one or two messages; room for ten was 6% of the
	// bytes a plain request allocated in the gateway.
	if err := decodeWithRoom(b, &a, &a.Messages, 2, "messages", 0); err != nil {
		return err
	}
	extra, err := unknownFields(b, chatRequestFields)
	if err != nil {
		return err
	}
	a.Extra = extra
	*r = ChatRequest(a)
	return nil
}

// MarshalJSON encodes the request with its Extra fields.
func (r ChatRequest) MarshalJSON() ([]byte, error) {
	return marshalWithExtra(chatRequestAlias(r), r.Extra)
}

// UnmarshalJSON decodes the response and keeps unknown fields in Extra.
func (r *ChatResponse) UnmarshalJSON(b []byte) error {
	var a chatResponseAlias
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	extra, err := unknownFields(b, chatResponseFields)
	if err != nil {
		return err
	}
	a.Extra = extra
	*r = ChatResponse(a)
	return nil
}

// MarshalJSON encodes the response with its Extra fields.
func (r ChatResponse) MarshalJSON() ([]byte, error) {
	return marshalWithExtra(chatResponseAlias(r), r.Extra)
}

// UnmarshalJSON decodes the chunk and keeps unknown fields in Extra.
func (c *ChatChunk) UnmarshalJSON(b []byte) error {
	var a chatChunkAlias
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	extra, err := unknownFields(b, chatChunkFields)
	if err != nil {
		return err
	}
	a.Extra = extra
	*c = ChatChunk(a)
	return nil
}

// Chunks and responses from OpenAI-shaped providers keep their wire form,
// the bytes the provider sent, so that an OpenAI client can be sent those
// bytes instead of a re-encoding: encoding every chunk again was a seventh
// of the gateway's CPU when streaming. Extra is left empty until Edit,
// since what is sent as it came never needs it.

// DecodeWireChunk decodes data, one event of an OpenAI-shaped stream, and
// keeps a copy of it as the chunk's wire form (see Wire).
func DecodeWireChunk(data []byte) (*ChatChunk, error) {
	c := &ChatChunk{wire: append([]byte(nil), data...)} // data may be a reused buffer
	if err := decodeWithRoom(c.wire, (*chatChunkAlias)(c), &c.Choices, 1, "choices", json.DontCopyString); err != nil {
		return nil, err
	}
	return c, nil
}

// Wire returns the chunk exactly as its provider sent it, or nil when
// Switchyard made the chunk or may have changed it (see Edit).
func (c *ChatChunk) Wire() []byte { return c.wire }

// Edit readies c to be changed: the members of its wire form that
// Switchyard does not model move to Extra and the wire form is dropped, so
// the chunk is encoded anew from its fields. Every stage that may change
// a chunk calls Edit first; one that forgot would send the original bytes.
func (c *ChatChunk) Edit() { editWire(&c.wire, &c.Extra, chatChunkFields) }

// DecodeWireResponse decodes data, an OpenAI-shaped chat completion, and
// keeps data itself as the response's wire form (see Wire): the caller
// must not change it afterwards, since the response's strings point into
// it too.
func DecodeWireResponse(data []byte) (*ChatResponse, error) {
	r := &ChatResponse{wire: data}
	if err := decodeWithRoom(data, (*chatResponseAlias)(r), &r.Choices, 1, "choices", json.DontCopyString); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeWithRoom decodes data into v, an alias type whose field for the
// member named member is *list, starting that list with room for n
// elements: the JSON decoder would otherwise make room for ten. For a
// streamed chunk's choices (nearly always one) that was 80% of the bytes
// its decoding allocated. Room left unused cannot tell an empty list from
// a missing one, so a value that decoded no elements is looked at again
// and, when the member is absent, the list is left nil as a plain decode
// leaves it.
func decodeWithRoom[E any](data []byte, v any, list *[]E, n int, member string, flags json.ParseFlags) error {
	*list = make([]E, 0, n)
	if err := parse(data, v, flags); err != nil {
		return err
	}
	if len(*list) == 0 && cap(*list) == n && !hasMember(data, member) {
		*list = nil
	}
	return nil
}

// parse is json.Unmarshal with flags. A wire form is decoded with
// json.DontCopyString: its strings then point into the wire form, which
// the chunk or answer keeps unchanged for as long as it lives, instead of
// each being a copy (half of a streamed chunk's allocations).
func parse(data []byte, v any, flags json.ParseFlags) error {
	if flags == 0 {
		return json.Unmarshal(data, v)
	}
	rest, err := json.Parse(data, v, flags)
	if err == nil && len(rest) != 0 {
		// As Unmarshal: bytes after the value are an error.
		return json.Unmarshal(data, new(json.RawMessage))
	}
	return err
}

// hasMember reports whether the JSON object b (valid, already decoded)
// has a top-level member the decoder reads into the field name: its name
// in any case, as the decoder matches them.
// It walks the top-level keys without collecting them: it runs on every
// streamed answer's last chunk, whose choices are empty.
func hasMember(b []byte, name string) bool {
	var tok json.Tokenizer
	tok.Reset(b)
	for tok.Next() {
		if tok.Depth != 1 || !tok.IsKey {
			continue
		}
		if inner := tok.Value[1 : len(tok.Value)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			if strings.EqualFold(string(inner), name) {
				return true
			}
			continue
		}
		if key, _, err := unknownName(tok.Value, nil); err == nil && strings.EqualFold(key, name) {
			return true
		}
	}
	return false
}

// Wire returns the response exactly as its provider sent it, or nil when
// Switchyard made the response or may have changed it (see Edit).
func (r *ChatResponse) Wire() []byte { return r.wire }

// Edit readies r to be changed, as ChatChunk.Edit does a chunk.
func (r *ChatResponse) Edit() { editWire(&r.wire, &r.Extra, chatResponseFields) }

// editWire moves the members of *wire that known lacks to *extra, keeping
// any a stage already set, and drops the wire form.
func editWire(wire *[]byte, extra *map[string]json.RawMessage, known map[string]bool) {
	if *wire == nil {
		return
	}
	// The wire form decoded, so it is valid JSON and the walk cannot fail.
	found, err := unknownFields(*wire, known)
	*wire = nil
	if err != nil || found == nil {
		return
	}
	if *extra == nil {
		*extra = found
		return
	}
	for k, v := range found {
		if _, ok := (*extra)[k]; !ok {
			(*extra)[k] = v
		}
	}
}

// MarshalJSON encodes the chunk with its Extra fields.
func (c ChatChunk) MarshalJSON() ([]byte, error) {
	return marshalWithExtra(chatChunkAlias(c), c.Extra)
}

// UnmarshalJSON decodes the part and keeps unknown fields in Extra.
func (p *Part) UnmarshalJSON(b []byte) error {
	var a partAlias
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	extra, err := unknownFields(b, partFields)
	if err != nil {
		return err
	}
	a.Extra = extra
	*p = Part(a)
	return nil
}

// MarshalJSON encodes the part with its Extra fields.
func (p Part) MarshalJSON() ([]byte, error) {
	if p.Type == PartText {
		// "text" must be present even when empty.
		type textPart struct {
			Type         string        `json:"type"`
			Text         string        `json:"text"`
			CacheControl *CacheControl `json:"cache_control,omitempty"`
		}
		return marshalWithExtra(textPart{p.Type, p.Text, p.CacheControl}, p.Extra)
	}
	return marshalWithExtra(partAlias(p), p.Extra)
}

// jsonFields returns the JSON names a struct declares.
func jsonFields(t reflect.Type) map[string]bool {
	names := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}

// unknownFields returns the members of the JSON object b that are not in
// known, or nil when there are none. b has already been decoded once, so it
// is valid JSON; the walk over its top-level members allocates only for the
// members it returns, which matters because every streamed chunk passes
// through here.
func unknownFields(b []byte, known map[string]bool) (map[string]json.RawMessage, error) {
	b = b[:len(b):len(b)] // a token's offset in b is cap(b) - cap(token)
	var (
		tok   json.Tokenizer
		extra map[string]json.RawMessage
		key   []byte
		start int
	)
	tok.Reset(b)
	for tok.Next() {
		if tok.Depth != 1 { // the object's own braces, or inside a member's value
			continue
		}
		end := 0
		switch {
		case tok.IsKey:
			key = tok.Value
		case tok.Delim == ':' || tok.Delim == ',':
		case tok.Delim == '{' || tok.Delim == '[':
			start = cap(b) - cap(tok.Value)
		case tok.Delim == '}' || tok.Delim == ']':
			end = cap(b) - cap(tok.Value) + 1
		default:
			start = cap(b) - cap(tok.Value)
			end = start + len(tok.Value)
		}
		if end == 0 {
			continue
		}
		name, unknown, err := unknownName(key, known)
		if err != nil {
			return nil, err
		}
		if unknown {
			if extra == nil {
				extra = make(map[string]json.RawMessage)
			}
			extra[name] = append(json.RawMessage(nil), b[start:end]...) // b may be a reused buffer
		}
	}
	if tok.Err != nil {
		return nil, tok.Err
	}
	return extra, nil
}

// unknownName unquotes the object key q and reports whether known lacks
// it. The common case, a plain key that is known, allocates nothing.
func unknownName(q []byte, known map[string]bool) (string, bool, error) {
	if inner := q[1 : len(q)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		if known[string(inner)] {
			return "", false, nil
		}
		return string(inner), true, nil
	}
	var name string
	if err := json.Unmarshal(q, &name); err != nil {
		return "", false, err
	}
	return name, !known[name], nil
}

// marshalWithExtra encodes v (a struct) and appends the extra members in key
// order. Extra never names a declared field: unknownFields leaves those out.
func marshalWithExtra(v any, extra map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = b[:len(b)-1] // drop '}'
	for _, k := range keys {
		if len(b) > 1 {
			b = append(b, ',')
		}
		kb, _ := json.Marshal(k)
		b = append(b, kb...)
		b = append(b, ':')
		b = append(b, extra[k]...)
	}
	return append(b, '}'), nil
}
