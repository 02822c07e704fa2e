package llm

import (
	"bytes"
	stdjson "encoding/json"
	"reflect"
	"strings"
	"testing"

	json "github.com/segmentio/encoding/json"
)

func TestChatRequestRoundTripKeepsUnknownFields(t *testing.T) {
	in := `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"input_audio","input_audio":{"data":"AAA","format":"wav"}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}],"tool_choice":{"type":"function","function":{"name":"f"}},"stop":"END","service_tier":"flex","prediction":{"type":"content","content":"x"}}`
	var r ChatRequest
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if r.ToolChoice.Function != "f" || len(r.Stop) != 1 || r.Stop[0] != "END" {
		t.Errorf("decoded %+v", r)
	}
	if string(r.Extra["service_tier"]) != `"flex"` || r.Extra["prediction"] == nil {
		t.Errorf("extra %v", r.Extra)
	}
	if !r.Messages[1].Content.IsNull() || r.Messages[0].Content.String() != "hi" {
		t.Errorf("content %+v", r.Messages)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"service_tier":"flex"`, `"prediction":{"type":"content","content":"x"}`, `"input_audio":{"data":"AAA","format":"wav"}`, `"content":null`, `"tool_choice":{"type":"function","function":{"name":"f"}}`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("re-encoded request lacks %s:\n%s", want, out)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"content number", `{"model":"m","messages":[{"role":"user","content":5}]}`, "content must be a string"},
		{"stop object", `{"model":"m","messages":[],"stop":{}}`, "stop must be a string"},
		{"tool_choice mode", `{"model":"m","messages":[],"tool_choice":"sometimes"}`, "not one of none, auto, required"},
		{"tool_choice object", `{"model":"m","messages":[],"tool_choice":{"type":"x"}}`, "tool_choice object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r ChatRequest
			err := json.Unmarshal([]byte(tt.in), &r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestEmbeddingInputShapes(t *testing.T) {
	for _, in := range []string{`"a"`, `["a","b"]`, `[1,2,3]`, `[[1,2],[3]]`} {
		var e EmbeddingInput
		if err := json.Unmarshal([]byte(in), &e); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, _ := json.Marshal(e)
		if string(out) != in {
			t.Errorf("%s re-encoded as %s", in, out)
		}
	}
	var e EmbeddingInput
	if err := json.Unmarshal([]byte(`{}`), &e); err == nil {
		t.Error("object accepted as input")
	}
}

func TestVectorBase64RoundTrip(t *testing.T) {
	v := Vector{Floats: []float32{1.5, -2, 0.25}, Base64: true}
	b, _ := json.Marshal(v)
	var back Vector
	if err := json.Unmarshal(b, &back); err != nil || !back.Base64 || back.Floats[1] != -2 {
		t.Errorf("round trip %s -> %+v (%v)", b, back, err)
	}
}

func FuzzChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"x":1}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:,"}}]}],"stop":["a"],"tool_choice":"auto"}`))
	f.Add([]byte(`{"model":"m"}`))
	f.Add([]byte(`{"model":"m","messages":[]}`))
	f.Add([]byte(`{"model":"m","messages":null}`))
	f.Add([]byte(`{"model":"m","MESSAGES":[{"role":"a"},{"role":"b"},{"role":"c"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r ChatRequest
		if json.Unmarshal(in, &r) != nil {
			return
		}
		// Decoding into room made in advance changes nothing: the
		// messages are those a plain decode finds, nil when it finds nil.
		var plain chatRequestAlias
		if err := json.Unmarshal(in, &plain); err != nil {
			t.Fatalf("UnmarshalJSON accepted what a plain decode refuses: %v", err)
		}
		if (r.Messages == nil) != (plain.Messages == nil) || !reflect.DeepEqual(r.Messages, plain.Messages) {
			t.Fatalf("messages %#v; a plain decode gives %#v", r.Messages, plain.Messages)
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("decoded but cannot re-encode: %v", err)
		}
		var again ChatRequest
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-encoded request does not decode: %v\n%s", err, out)
		}
	})
}

// unknownFieldsByMap is the obvious, slower way to find unknown members:
// decode the whole object into a map. unknownFields must agree with it.
func unknownFieldsByMap(b []byte, known map[string]bool) (map[string]json.RawMessage, error) {
	var all map[string]json.RawMessage
	if err := stdjson.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	var extra map[string]json.RawMessage
	for k, v := range all {
		if !known[k] {
			if extra == nil {
				extra = map[string]json.RawMessage{}
			}
			extra[k] = v
		}
	}
	return extra, nil
}

func checkUnknownFields(t *testing.T, in []byte) {
	t.Helper()
	known := map[string]bool{"id": true, "choices": true, "model": true}
	want, wantErr := unknownFieldsByMap(in, known)
	if wantErr != nil {
		return // unknownFields only ever sees objects that decoded
	}
	got, err := unknownFields(in, known)
	if err != nil {
		t.Fatalf("unknownFields(%s): %v", in, err)
	}
	if len(got) != len(want) {
		t.Fatalf("unknownFields(%s) = %q, want %q", in, got, want)
	}
	for k, v := range want {
		if string(bytes.TrimSpace(got[k])) != string(bytes.TrimSpace(v)) {
			t.Fatalf("unknownFields(%s)[%q] = %q, want %q", in, k, got[k], v)
		}
	}
}

func TestUnknownFields(t *testing.T) {
	for _, in := range []string{
		`{}`,
		`null`,
		`{"id":"x","choices":[{"a":{"b":[1,2,{"c":"}"}]}}],"model":"m"}`,
		`{"id":"x","obfuscation":"abc","service_tier":null,"n":-1.5e3,"t":true,"f":false}`,
		`{ "x" : { "y" : [ ] } , "id" : 1 , "z" : [ { } ] }`,
		`{"a\"b":1,"\u0069d":2,"e\\":"\"}"}`,
		`{"dup":1,"dup":{"k":2}}`,
	} {
		t.Run(in, func(t *testing.T) { checkUnknownFields(t, []byte(in)) })
	}
	got, _ := unknownFields([]byte(`{"id":"x","extra":{"k":[1]},"model":"m"}`), map[string]bool{"id": true, "model": true})
	if len(got) != 1 || string(got["extra"]) != `{"k":[1]}` {
		t.Fatalf("got %q", got)
	}
}

func FuzzUnknownFields(f *testing.F) {
	f.Add([]byte(`{"id":"x","choices":[{"delta":{"content":"hi"}}],"x":{"y":[1,"]"]}}`))
	f.Add([]byte(`{"a\"b":1,"\u0069d":2}`))
	f.Fuzz(checkUnknownFields)
}

// wireForm is what ChatChunk and ChatResponse share.
type wireForm interface {
	Wire() []byte
	Edit()
}

// checkWire: decodeWire agrees with UnmarshalJSON (into a new T) on what
// it accepts, keeps the exact bytes (even when the caller reuses its
// buffer, if reused), and after Edit encodes exactly what T from
// UnmarshalJSON encodes.
func checkWire[T any, P interface {
	*T
	wireForm
}](t *testing.T, in []byte, decodeWire func([]byte) (P, error), reused bool) {
	want := new(T)
	werr := json.Unmarshal(in, want)
	buf := append([]byte(nil), in...)
	v, err := decodeWire(buf)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decoding with the wire form: error %v; UnmarshalJSON: error %v", err, werr)
	}
	if err != nil {
		return
	}
	if reused {
		clear(buf) // a stream reader reuses its buffer for the next event
	}
	if !bytes.Equal(v.Wire(), in) {
		t.Fatalf("Wire() = %q, want the input %q", v.Wire(), in)
	}
	v.Edit()
	if v.Wire() != nil {
		t.Fatalf("Wire() = %q after Edit, want nil", v.Wire())
	}
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	wantOut, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wantOut) {
		t.Fatalf("after Edit:\n got %s\nwant %s", got, wantOut)
	}
}

func checkWireChunk(t *testing.T, in []byte) { checkWire(t, in, DecodeWireChunk, true) }

func checkWireResponse(t *testing.T, in []byte) { checkWire(t, in, DecodeWireResponse, false) }

func TestDecodeWireChunk(t *testing.T) {
	for _, in := range []string{
		`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"logprobs":null,"finish_reason":null}],"usage":null}`,
		`{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3},"obfuscation":"x1","service_tier":"default"}`,
		`{"id":"c","choices":[{"index":0,"delta":{},"content_filter_results":{"hate":{"filtered":false}}}],"\u0078":[1,{"k":"}"}]}`,
		`{"choices":[{"index":"zero"}]}`,
		`{"id":"c","usage":{"prompt_tokens":1}}`,
		`{"id":"c","choices":null}`,
		`{"id":"c","x":{"choices":[]},"choices":[{"index":0},{"index":1},{"index":2}]}`,
		`{"id":"c","x":{"choices":[]}}`,
		`{"id":"c\u0041\n","model":"m","choices":[{"index":0,"delta":{"content":"\"quoted\" \u00e9"}}]}`,
		`{"id":"c"} `,
		`{"id":"c"} x`,
		`{"id":"c"}{}`,
		`not json`,
	} {
		t.Run(in, func(t *testing.T) { checkWireChunk(t, []byte(in)) })
	}
	// A member that Edit moves to Extra does not replace one a stage set.
	c, err := DecodeWireChunk([]byte(`{"id":"c","x":1,"y":2}`))
	if err != nil {
		t.Fatal(err)
	}
	c.Extra = map[string]stdjson.RawMessage{"x": stdjson.RawMessage(`"mine"`)}
	c.Edit()
	if string(c.Extra["x"]) != `"mine"` || string(c.Extra["y"]) != "2" {
		t.Fatalf("Extra after Edit = %q", c.Extra)
	}
}

// TestWireTrailingBytes: bytes after the value are the error Unmarshal
// gives, though the wire forms are decoded with json.Parse.
func TestWireTrailingBytes(t *testing.T) {
	_, err := DecodeWireChunk([]byte(`{"id":"c"} x`))
	if err == nil || !strings.Contains(err.Error(), "after top-level value") {
		t.Fatalf("chunk with trailing bytes: %v", err)
	}
	_, err = DecodeWireResponse([]byte(`{"id":"r"}]`))
	if err == nil || !strings.Contains(err.Error(), "after top-level value") {
		t.Fatalf("response with trailing bytes: %v", err)
	}
}

func TestDecodeWireResponse(t *testing.T) {
	for _, in := range []string{
		`{"id":"r","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`,
		`{"id":"r","choices":[],"prompt_filter_results":[{"prompt_index":0}],"service_tier":"default"}`,
		`{"choices":[{"finish_reason":7}]}`,
		`{"id":"r"}`,
		`{"id":"r","choices":[]}`,
		`{"id":"r","choices":[{"index":0},{"index":1}]}`,
		`{"id":"r"} x`,
		`[]`,
	} {
		t.Run(in, func(t *testing.T) { checkWireResponse(t, []byte(in)) })
	}
}

func FuzzDecodeWireResponse(f *testing.F) {
	f.Add([]byte(`{"id":"r","choices":[{"index":0,"message":{"content":[{"type":"text","text":"x"}]}}],"x":[1,"]"]}`))
	f.Fuzz(checkWireResponse)
}

func FuzzDecodeWireChunk(f *testing.F) {
	f.Add([]byte(`{"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null,"x":{"y":[1,"]"]}}`))
	f.Add([]byte(`{"error":{"message":"boom"}}`))
	f.Fuzz(checkWireChunk)
}

func BenchmarkChatChunkUnmarshal(b *testing.B) {
	in := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"obfuscation":"x1"}`)
	b.ReportAllocs()
	for b.Loop() {
		var c ChatChunk
		if err := json.Unmarshal(in, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFinishReasonUnmarshal(t *testing.T) {
	for _, tt := range []struct {
		in      string
		want    FinishReason
		wantErr bool
	}{
		{`null`, "", false},
		{`"stop"`, FinishStop, false},
		{`"length"`, FinishLength, false},
		{`"tool_calls"`, FinishToolCalls, false},
		{`"content_filter"`, FinishContentFilter, false},
		{`"end_turn"`, "end_turn", false},
		{`"st\u006fp"`, FinishStop, false},
		{`7`, "", true},
	} {
		t.Run(tt.in, func(t *testing.T) {
			var c struct {
				F FinishReason `json:"f"`
			}
			err := json.Unmarshal([]byte(`{"f":`+tt.in+`}`), &c)
			if (err != nil) != tt.wantErr || c.F != tt.want {
				t.Fatalf("got %q, %v; want %q (error %v)", c.F, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestHasMember(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{`{"choices":[]}`, true},
		{`{"id":"c","CHOICES":[]}`, true},
		{`{"\u0063hoices":[]}`, true},
		{`{"x":{"choices":[]},"y":["choices"]}`, false},
		{`{"choicesx":1,"choice":2}`, false},
		{`{"id":"choices"}`, false},
		{`{}`, false},
	} {
		if got := hasMember([]byte(tt.in), "choices"); got != tt.want {
			t.Errorf("hasMember(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
	b := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1}}`)
	// The tokenizer's own state is all it allocates; collecting the
	// members first took 14 allocations for this chunk.
	if n := testing.AllocsPerRun(100, func() { hasMember(b, "choices") }); n > 2 {
		t.Errorf("hasMember allocates %v times; want at most 2", n)
	}
}
