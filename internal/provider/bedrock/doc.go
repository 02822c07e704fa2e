// Package bedrock is the adapter for AWS Bedrock Runtime: chat through the
// Converse and ConverseStream APIs (any model Bedrock serves, including
// cross-region inference profiles and ARNs) and embeddings through
// InvokeModel (Titan text embeddings v2, Cohere embed).
//
// Requests are signed with SigV4 from the AWS SDK's credential chain, or
// carry a Bedrock API key. Translation is canonical (OpenAI-shaped) to
// Converse and back; fields Converse cannot express are rejected with a
// 400 naming them, never dropped. Decisions on lossy spots:
//
//   - system and developer messages become system[] blocks in order; their
//     position in the conversation is lost.
//   - tool_choice "none" drops toolConfig, except when the history holds
//     tool use or tool results: Bedrock then requires toolConfig, so the
//     tools are kept and no toolChoice is sent (the model's default, auto).
//     The adapter cannot forbid a call in that case.
//   - parallel_tool_calls has no Converse switch and is not enforced; user
//     is not sent (the gateway audits it).
//   - response_format json_schema becomes outputConfig.textFormat (shape
//     from the SDK's OutputConfig); json_object is rejected, since Bedrock
//     has no schemaless JSON mode.
//   - reasoning_effort low|medium|high becomes outputConfig.effort.
//   - Extra fields "top_k" and "thinking" go to additionalModelRequestFields
//     unchanged; any other unknown field is rejected.
//   - seed, n>1, logprobs, top_logprobs and penalties are rejected.
//   - Reasoning text without a signed thinking block is not replayed.
//   - Tool-call ids outside [a-zA-Z0-9_-]{1,64} are rewritten
//     deterministically ("sy-" + base64url) and restored in answers.
//
// Usage: Bedrock's inputTokens excludes prompt-cache reads and writes, so
// prompt_tokens = inputTokens + cacheReadInputTokens + cacheWriteInputTokens,
// cached_tokens = cacheReadInputTokens, cache_creation_tokens =
// cacheWriteInputTokens and total_tokens = prompt_tokens + outputTokens.
package bedrock
