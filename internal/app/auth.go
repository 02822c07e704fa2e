package app

import (
	"context"
	"crypto/sha256"
	"net/http"
	"sync/atomic"

	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// staticAuth authenticates the keys listed in the config file. Lookups
// hash the presented key and read an immutable map swapped on reload, so
// no request waits on another.
type staticAuth struct {
	keys atomic.Pointer[map[[32]byte]*gateway.Caller]
}

func newStaticAuth(keys []config.StaticKey) *staticAuth {
	a := &staticAuth{}
	a.set(keys)
	return a
}

func (a *staticAuth) set(keys []config.StaticKey) {
	m := make(map[[32]byte]*gateway.Caller, len(keys))
	for _, k := range keys {
		sum := sha256.Sum256([]byte(k.Secret))
		m[sum] = &gateway.Caller{
			KeyID: "static:" + k.Name, KeyPrefix: k.Secret[:min(len(k.Secret), 12)],
			AllowedModels: k.Models, AllowedRegions: k.Regions, AllowedProviders: k.Providers,
			AllowRouteOverride: k.AllowRouteOverride,
		}
	}
	a.keys.Store(&m)
}

func (a *staticAuth) Authenticate(_ context.Context, secret string) (*gateway.Caller, error) {
	sum := sha256.Sum256([]byte(secret))
	c, ok := (*a.keys.Load())[sum]
	// Looking up the SHA-256 of the key, not the key, means timing can
	// tell an attacker nothing about how close a guess came.
	if !ok {
		e := llm.Errorf(http.StatusUnauthorized, "invalid API key: the key you sent is not a Switchyard key known to this gateway (check for typos, expiry or revocation)")
		e.Code = "invalid_api_key"
		return nil, e
	}
	return c, nil
}
