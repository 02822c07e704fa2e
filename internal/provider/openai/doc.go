// Package openai adapts OpenAI's Chat Completions and Embeddings API, and
// every server that speaks it (vLLM, Ollama, llama.cpp, LM Studio), to
// Switchyard's provider seam.
//
// It registers two provider names: "openai" for api.openai.com and
// "openai-compatible" for self-hosted servers, whose base_url is required
// and whose api_key is optional. Client is the protocol engine itself;
// other OpenAI-shaped clouds (Azure OpenAI) reuse it and override only how
// URLs are built and how requests are authorised.
package openai
