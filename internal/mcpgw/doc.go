// Package mcpgw is Switchyard's MCP gateway: one streamable-HTTP MCP
// endpoint that presents the tools of several upstream MCP servers to an
// agent, each call checked (access, policy, DLP, approval), forwarded and
// audited.
//
// Tool names. A tool "delete_records" of the upstream server "crm" is
// listed as "crm__delete_records": the server name, the separator "__"
// (two underscores, [NamespaceSeparator]) and the upstream tool name. MCP
// tool names allow [a-zA-Z0-9_-.], and the separator must survive the
// function-name rules of the model APIs agents sit on, which allow only
// [a-zA-Z0-9_-]; so server names are [a-z0-9_-]+ without "__" and without
// a trailing "_", which keeps the split at the first "__" unambiguous.
//
// Callers. The gateway is mounted behind api.WithCaller, so every HTTP
// request carries the authenticated *gateway.Caller. Each key gets its own
// MCP server view, whose tool list and calls are evaluated for that key;
// a session started by one key cannot be used by another.
package mcpgw
