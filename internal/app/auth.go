package app

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/internal/auth"
	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/store"
)

// keyAuth authenticates callers against the store's virtual keys through
// the in-memory key cache: no request waits on the database.
type keyAuth struct {
	cache *auth.KeyCache
}

func (a keyAuth) Authenticate(ctx context.Context, secret string) (*gateway.Caller, error) {
	p, err := a.cache.Authenticate(ctx, secret)
	if err != nil {
		code := "invalid_api_key"
		if errors.Is(err, auth.ErrStoreUnavailable) {
			code = "key_store_unavailable"
		}
		return nil, &llm.Error{Status: auth.HTTPStatus(err), Type: llm.TypeForStatus(auth.HTTPStatus(err)), Code: code, Message: err.Error()}
	}
	return &gateway.Caller{
		KeyID: p.KeyID, KeyPrefix: p.KeyPrefix, OrgID: p.OrgID, TeamID: p.TeamID, UserID: p.UserID,
		AllowedModels:    narrow(p.AllowedModels, p.TeamAllowedModels),
		AllowedRegions:   narrow(p.AllowedRegions, p.TeamAllowedRegions),
		AllowedProviders: narrow(p.AllowedProviders, p.TeamAllowedProviders),
		RequireZDR:       p.RequireZDR, AllowRouteOverride: p.AllowRouteOverride,
		RPM: p.RPM, TPM: p.TPM, TeamRPM: p.TeamRPM, TeamTPM: p.TeamTPM, Metadata: p.Metadata,
	}, nil
}

// matchesNothing is an allow-list entry no alias, region or provider has.
const matchesNothing = "\x00none"

// narrow combines a key's allow-list with its team's: the key may use only
// what both allow. Empty lists and "*" allow everything. An entry of the
// key's list survives if the team's list allows it, read as a name
// (team globs such as "eu-*" admit the key's "eu-west-1"); so the result
// is never wider than the team's list.
func narrow(key, team []string) []string {
	if allowsAll(team) {
		return key
	}
	if allowsAll(key) {
		return team
	}
	var out []string
	for _, k := range key {
		for _, t := range team {
			if ok, _ := path.Match(strings.ToLower(t), strings.ToLower(k)); ok || t == k {
				out = append(out, k)
				break
			}
		}
	}
	if len(out) == 0 {
		return []string{matchesNothing}
	}
	return out
}

func allowsAll(list []string) bool {
	return len(list) == 0 || slices.Contains(list, "*")
}

// bootstrapKeys creates the config file's keys in the store if they are
// not there yet, so a fresh gateway is usable before anyone calls the
// admin API. Existing keys are left as they are: the admin API owns them.
func bootstrapKeys(ctx context.Context, st store.KeyStore, keys []config.StaticKey) error {
	for _, k := range keys {
		hash := auth.HashSecret(k.Secret)
		_, err := st.KeyByHash(ctx, hash)
		if err == nil {
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("bootstrap key %s: %w", k.Name, err)
		}
		_, err = st.CreateKey(ctx, store.Key{
			Name: k.Name, Hash: hash, Prefix: k.Secret[:auth.DisplayPrefixLen],
			AllowedModels: k.Models, AllowedRegions: k.Regions, AllowedProviders: k.Providers,
			AllowRouteOverride: k.AllowRouteOverride, RPM: k.RPM, TPM: k.TPM, Metadata: map[string]string{"source": "config"},
		})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("bootstrap key %s: %w", k.Name, err)
		}
	}
	return nil
}
