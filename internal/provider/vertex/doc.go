// Package vertex is Switchyard's Google Vertex AI backend: Gemini models
// through generateContent and streamGenerateContent, text embeddings
// through predict, and Claude on Vertex through rawPredict. It registers
// itself as "vertex".
//
// Gemini's thought signatures on function calls travel to the client both
// as tool_calls[].thought_signature and inside the tool-call id
// ("<id>__sig_<base64url>"), because SDKs drop unknown fields but always
// return ids; a later request takes the field if present, else the id's
// suffix. Signatures on text parts travel only in thinking_blocks. See
// sigid.go for the format and its limits.
package vertex
