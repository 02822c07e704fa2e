package app

import (
	"github.com/switchyard/switchyard/internal/govern"
	"github.com/switchyard/switchyard/internal/store"
)

// GovernanceOf exposes governanceOf to the external tests.
func GovernanceOf(g *Gateway) *govern.Governance { return governanceOf(g) }

// SetGovernStore puts wrap in front of the store the governance writers
// use, for gateways built until restore is called.
func SetGovernStore(wrap func(store.Store) store.Store) (restore func()) {
	prev := governStore
	governStore = wrap
	return func() { governStore = prev }
}
