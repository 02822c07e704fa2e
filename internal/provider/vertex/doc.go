// Package vertex is Switchyard's Google Vertex AI backend: Gemini models
// through generateContent and streamGenerateContent, text embeddings
// through predict, and Claude on Vertex through rawPredict. It registers
// itself as "vertex".
package vertex
