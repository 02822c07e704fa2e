// Package anthropic holds the Anthropic Messages API wire types and the pure
// translations between them and Switchyard's canonical (OpenAI-shaped) chat
// types, in both directions.
//
// Three callers share it: the Anthropic adapter (canonical -> Messages ->
// canonical), Claude on Vertex AI (the same body minus model, plus
// anthropic_version), and the Anthropic-compatible front door (Messages ->
// canonical -> Messages). Nothing here does I/O.
//
// Decisions a caller should know:
//   - response_format json_schema and json_object become one forced tool
//     named StructuredOutputTool whose input_schema is the schema; its
//     tool_use answer comes back as plain JSON content with finish_reason
//     "stop", streamed or not. A request that also declares tools or a
//     tool_choice is rejected: both cannot be forced at once.
//   - stop_reason pause_turn (a server tool paused a long turn) becomes
//     finish_reason "stop": the client sees a normal end and may continue
//     the turn by sending the conversation back.
//   - Request fields Anthropic has no place for are rejected with a 400
//     naming the field (n>1, logprobs, penalties, unknown extras), except
//     seed, which OpenAI documents as best effort and is dropped.
//   - Created is left 0 in translated responses: Anthropic reports no
//     timestamp, so the caller stamps it.
package anthropic
