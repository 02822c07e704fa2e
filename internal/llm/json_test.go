package llm

import (
	"encoding/json"
	"strings"
	"testing"
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
	f.Fuzz(func(t *testing.T, in []byte) {
		var r ChatRequest
		if json.Unmarshal(in, &r) != nil {
			return
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
