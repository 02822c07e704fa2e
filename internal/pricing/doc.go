// Package pricing turns token usage into money: a versioned catalog of list
// prices shipped with the binary, operator overrides (per-deployment prices,
// negotiated discounts, prepaid monthly commitments) and exact integer
// arithmetic in micro-USD, so budgets and invoices never drift by float
// rounding.
package pricing
