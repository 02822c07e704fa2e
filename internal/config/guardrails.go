package config

// Guardrails configures agent governance: DLP, policies, tool permissions,
// approvals and the MCP gateway. Its fields sit at the top level of the
// config file.
type Guardrails struct{}

// validateGuardrails checks the guardrail settings.
func (c *Config) validateGuardrails(add func(path, format string, args ...any)) {}
