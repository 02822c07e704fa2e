package vertex

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/provider"
	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/vertexsim"
)

// anthropicIDRE is what Anthropic's tool_use ids must match; the gateway's
// Anthropic front door hands tool-call ids out as tool_use ids.
var anthropicIDRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func TestSignatureID(t *testing.T) {
	tests := []struct {
		desc    string
		id, sig string
		wantID  string
		wantSig string // what splitSignatureID recovers
	}{
		{"synthesized id", "call_vtx_0_1a2b3c4d", "c2lnLTE=", "call_vtx_0_1a2b3c4d__sig_c2lnLTE", "c2lnLTE="},
		{"Gemini's own id", "fc-9", "+/+/c2ln//8=", "fc-9__sig_-_-_c2ln__8", "+/+/c2ln//8="},
		{"no signature", "fc-9", "", "fc-9", ""},
		{"not canonical base64 stays in the field only", "fc-9", "c2lnLTE", "fc-9", ""},
		{"not base64 at all", "fc-9", "sig!", "fc-9", ""},
		{"an id already holding the marker is left alone", "a__sig_b", "c2lnLTE=", "a__sig_b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := idWithSignature(tt.id, tt.sig)
			if got != tt.wantID {
				t.Fatalf("idWithSignature(%q, %q) = %q, want %q", tt.id, tt.sig, got, tt.wantID)
			}
			base, sig := splitSignatureID(got)
			if sig != tt.wantSig || (sig != "" && base != tt.id) {
				t.Errorf("splitSignatureID(%q) = %q, %q; want %q, %q", got, base, sig, tt.id, tt.wantSig)
			}
		})
	}
}

func TestSplitSignatureIDRejectsJunk(t *testing.T) {
	for _, id := range []string{"__sig_c2lnLTE", "fc__sig_", "fc__sig_!!", "fc__sig_c2lnLTE=", "fc__sig_c2lnLTF"} {
		t.Run(id, func(t *testing.T) {
			if base, sig := splitSignatureID(id); base != id || sig != "" {
				t.Errorf("splitSignatureID(%q) = %q, %q; want the id unchanged and no signature", id, base, sig)
			}
		})
	}
}

// FuzzSignatureID checks that a signature put in an id comes back out
// unchanged, that the id stays within Anthropic's tool_use alphabet, and
// that reading any id never panics.
func FuzzSignatureID(f *testing.F) {
	f.Add("call_vtx_0_1a2b3c4d", []byte("sig-1"))
	f.Add("fc-9", []byte{0xfb, 0xff, 0xbf, 's', 'i', 'g', 0xff, 0xff})
	f.Add("a__sig_b", []byte("x"))
	f.Fuzz(func(t *testing.T, id string, raw []byte) {
		splitSignatureID(id)
		sig := base64.StdEncoding.EncodeToString(raw)
		got := idWithSignature(id, sig)
		if got == id {
			return
		}
		base, back := splitSignatureID(got)
		if base != id || back != sig {
			t.Fatalf("id %q with signature %q became %q, read back as %q, %q", id, sig, got, base, back)
		}
		if anthropicIDRE.MatchString(id) && !anthropicIDRE.MatchString(got) {
			t.Fatalf("id %q left the tool_use alphabet as %q", id, got)
		}
	})
}

// sdkToolCall is a tool call as the official SDKs rebuild it for the next
// turn: id, type and function only; thought_signature is gone.
func sdkToolCall(tc llm.ToolCall) llm.ToolCall {
	return llm.ToolCall{ID: tc.ID, Type: "function", Function: tc.Function}
}

// weatherTurn asks the Gemini 3 fake for the weather; it answers with a
// tool call, then, told the result, with text.
func weatherTurn(f *fake) *llm.ChatRequest {
	f.engine.SetScript(&sim.Script{Rules: []sim.Rule{
		{Contains: "weather", Reply: sim.Reply{ToolCalls: []sim.ToolCallSpec{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}},
		{AfterToolResult: true, Reply: sim.Reply{Text: "It is 21C in Paris."}},
	}})
	req := userRequest("What is the weather in Paris?")
	req.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDef{Name: "get_weather",
		Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}}}`)}}}
	return req
}

// streamedCalls collects the tool calls of a stream the way
// openai-go's ChatCompletionAccumulator does: id, name and arguments.
func streamedCalls(t *testing.T, s llm.ChatStream) []llm.ToolCall {
	t.Helper()
	chunks, err := drain(s)
	if err != io.EOF {
		t.Fatalf("stream ended with %v", err)
	}
	var calls []llm.ToolCall
	for _, c := range chunks {
		for _, ch := range c.Choices {
			for _, d := range ch.Delta.ToolCalls {
				if d.Index == nil {
					t.Fatalf("tool call delta without index: %+v", d)
				}
				for len(calls) <= *d.Index {
					calls = append(calls, llm.ToolCall{Type: "function"})
				}
				tc := &calls[*d.Index]
				if d.ID != "" {
					tc.ID = d.ID
				}
				tc.Function.Name += d.Function.Name
				tc.Function.Arguments += d.Function.Arguments
			}
		}
	}
	return calls
}

// TestGemini3ToolTurnWithoutSignatureField: a client that drops
// thought_signature but keeps the id, as the official SDKs do, still gets
// its second turn past Gemini 3, because the id carries the signature.
func TestGemini3ToolTurnWithoutSignatureField(t *testing.T) {
	tests := []struct {
		desc  string
		first func(t *testing.T, p provider.Provider, req *llm.ChatRequest) []llm.ToolCall
	}{
		{"plain", func(t *testing.T, p provider.Provider, req *llm.ChatRequest) []llm.ToolCall {
			resp, err := p.ChatCompletion(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			return resp.Choices[0].Message.ToolCalls
		}},
		{"stream", func(t *testing.T, p provider.Provider, req *llm.ChatRequest) []llm.ToolCall {
			s, err := p.StreamChatCompletion(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			return streamedCalls(t, s)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			f := startFake(t, vertexsim.Options{}) // strict because the model is Gemini 3
			p := f.providerFor(t, "gemini-3-pro-preview", nil)
			req := weatherTurn(f)
			calls := tt.first(t, p, req)
			if len(calls) != 1 || !strings.Contains(calls[0].ID, sigMarker) || !anthropicIDRE.MatchString(calls[0].ID) {
				t.Fatalf("tool calls = %+v, want one whose id carries the signature in [a-zA-Z0-9_-]", calls)
			}
			id := calls[0].ID
			req.Messages = append(req.Messages,
				llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{sdkToolCall(calls[0])}},
				llm.Message{Role: llm.RoleTool, ToolCallID: id, Content: llm.TextContent("21C")})
			resp, err := p.ChatCompletion(t.Context(), req)
			if err != nil {
				t.Fatalf("second turn without thought_signature: %v", err)
			}
			if got := resp.Choices[0].Message.Content.String(); got != "It is 21C in Paris." {
				t.Errorf("answer = %q", got)
			}
			contents := f.lastBody(t)["contents"].([]any)
			call := contents[1].(map[string]any)["parts"].([]any)[0].(map[string]any)
			_, want := splitSignatureID(id)
			if call["thoughtSignature"] != want || call["functionCall"].(map[string]any)["id"] != nil {
				t.Errorf("model turn sent = %v, want thoughtSignature %q and no id (Gemini gave none)", call, want)
			}
		})
	}
}

// TestGemini3MissingSignatureIs400: a call whose id carries no signature
// and which has no thought_signature field reaches Gemini 3 unsigned; its
// 400 reaches the client as a 400 that says what to send instead.
func TestGemini3MissingSignatureIs400(t *testing.T) {
	f := startFake(t, vertexsim.Options{})
	p := f.providerFor(t, "gemini-3-pro-preview", nil)
	req := weatherTurn(f)
	resp, err := p.ChatCompletion(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	tc := sdkToolCall(resp.Choices[0].Message.ToolCalls[0])
	tc.ID, _ = splitSignatureID(tc.ID) // a client that shortened the id
	req.Messages = append(req.Messages,
		llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{tc}},
		llm.Message{Role: llm.RoleTool, ToolCallID: tc.ID, Content: llm.TextContent("21C")})
	_, err = p.ChatCompletion(t.Context(), req)
	e := assertError(t, err, http.StatusBadRequest, "gemini-eu", "thought_signature", "ids the gateway returned, unchanged")
	if !e.Upstream || e.Type != "invalid_request_error" {
		t.Errorf("upstream %v type %q, want an upstream invalid_request_error", e.Upstream, e.Type)
	}
	if n := f.engine.Recorder().Count(); n != 2 {
		t.Errorf("the fake saw %d requests, want 2 (the rejection is Gemini's, not the adapter's)", n)
	}
}
