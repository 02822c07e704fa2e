package config

// Governance configures spend and records: pricing, usage and audit
// writers, budgets and rate limits. Its fields sit at the top level of
// the config file.
type Governance struct{}

// validateGovernance checks the governance settings.
func (c *Config) validateGovernance(add func(path, format string, args ...any)) {}
