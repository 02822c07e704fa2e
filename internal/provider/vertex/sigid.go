package vertex

import (
	"encoding/base64"
	"strings"
)

// Gemini signs the reasoning behind a function call (thoughtSignature),
// and Gemini 3 rejects a later turn that replays the call without it. The
// gateway hands the signature out as tool_calls[].thought_signature, but
// the official SDKs (openai-go's ToParam and ChatCompletionAccumulator)
// and the Anthropic front door rebuild tool calls from the fields they
// know, so that field is lost on the way back. The tool-call id is the one
// thing every client returns untouched, so the signature rides in it too:
//
//	<id> "__sig_" <signature bytes, base64url without padding>
//
// The suffix alphabet is [A-Za-z0-9_-], which Anthropic's tool_use ids
// require. The id stays deterministic: the same answer gives the same id.
//
// Limits: a client that truncates or rewrites ids (some cap them at 40 or
// 64 characters) loses the signature, and so does a history replayed to
// another provider that rewrites long ids. Signatures Gemini puts on text
// parts (Gemini 3 may sign the first text part of a turn without calls)
// have no id to ride in; they travel only in thinking_blocks, and Gemini
// does not reject a turn that lacks them.
const sigMarker = "__sig_"

// idWithSignature returns id with sig appended as a suffix, or id alone
// when there is nothing to append or the suffix could not be read back
// unambiguously: an id already holding the marker, or a signature that is
// not canonical standard base64 (Gemini sends bytes as standard base64).
func idWithSignature(id, sig string) string {
	// The marker must first occur where it is appended, or the id could not
	// be split back: an id containing it, or ending in a prefix of it that
	// the marker completes (such as "…__sig"), is left as it is.
	if sig == "" || id == "" || strings.Index(id+sigMarker, sigMarker) != len(id) {
		return id
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) == 0 || base64.StdEncoding.EncodeToString(raw) != sig {
		return id
	}
	return id + sigMarker + base64.RawURLEncoding.EncodeToString(raw)
}

// splitSignatureID undoes idWithSignature: it returns the id as it was
// before the suffix and the signature in Gemini's standard base64, or the
// id unchanged and "" when it carries no readable signature.
func splitSignatureID(id string) (base, sig string) {
	base, enc, ok := strings.Cut(id, sigMarker)
	if !ok || base == "" || enc == "" {
		return id, ""
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(raw) == 0 {
		return id, ""
	}
	return base, base64.StdEncoding.EncodeToString(raw)
}
