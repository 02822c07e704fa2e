package auth

import (
	"path"
	"slices"

	"github.com/switchyard/switchyard/internal/store"
)

// Principal is the authenticated caller of one request. The Team* lists
// come from the key's team and intersect with the key's own lists.
type Principal struct {
	KeyID              string
	KeyPrefix          string
	OrgID              string
	TeamID             string
	UserID             string
	AllowedModels      []string
	AllowedRegions     []string
	AllowedProviders   []string
	RequireZDR         bool
	AllowRouteOverride bool
	RPM                int
	TPM                int
	Metadata           map[string]string
	// TeamAllowedModels, TeamAllowedRegions and TeamAllowedProviders are
	// the team's restrictions; empty means none.
	TeamAllowedModels    []string
	TeamAllowedRegions   []string
	TeamAllowedProviders []string
	// TeamRPM and TeamTPM are the team's limits, shared by all its keys;
	// 0 means none.
	TeamRPM, TeamTPM int
}

func newPrincipal(k store.Key, team store.Team) *Principal {
	return &Principal{
		KeyID: k.ID, KeyPrefix: k.Prefix, OrgID: k.OrgID, TeamID: k.TeamID, UserID: k.UserID,
		AllowedModels: k.AllowedModels, AllowedRegions: k.AllowedRegions, AllowedProviders: k.AllowedProviders,
		RequireZDR: k.RequireZDR, AllowRouteOverride: k.AllowRouteOverride, RPM: k.RPM, TPM: k.TPM,
		Metadata:          k.Metadata,
		TeamAllowedModels: team.AllowedModels, TeamAllowedRegions: team.AllowedRegions,
		TeamAllowedProviders: team.AllowedProviders, TeamRPM: team.RPM, TeamTPM: team.TPM,
	}
}

// AllowsModel reports whether both the key and its team admit alias.
func (p *Principal) AllowsModel(alias string) bool {
	return p != nil && allows(p.AllowedModels, alias, exact) && allows(p.TeamAllowedModels, alias, exact)
}

// AllowsProvider reports whether both the key and its team admit provider.
func (p *Principal) AllowsProvider(provider string) bool {
	return p != nil && allows(p.AllowedProviders, provider, exact) && allows(p.TeamAllowedProviders, provider, exact)
}

// AllowsRegion reports whether region matches a glob ("eu-*") in both the
// key's and the team's region lists.
func (p *Principal) AllowsRegion(region string) bool {
	return p != nil && allows(p.AllowedRegions, region, glob) && allows(p.TeamAllowedRegions, region, glob)
}

func exact(pattern, v string) bool { return pattern == v }

func glob(pattern, v string) bool {
	ok, err := path.Match(pattern, v)
	return err == nil && ok
}

// allows treats an empty list or "*" as "everything".
func allows(list []string, v string, match func(pattern, v string) bool) bool {
	if len(list) == 0 || slices.Contains(list, "*") {
		return true
	}
	for _, p := range list {
		if match(p, v) {
			return true
		}
	}
	return false
}
