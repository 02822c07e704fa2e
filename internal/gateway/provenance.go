package gateway

import (
	"context"
	"net/http"
)

// Provenance says which cloud, deployment and model version answered a
// request. Front doors write it as x-switchyard-* response headers.
type Provenance struct {
	RequestID    string
	Provider     string
	Deployment   string
	Region       string
	ModelVersion string
	// Attempts counts upstream attempts, failovers and hedges included.
	Attempts int
	// Headers are extra response headers from the governance stages
	// (x-ratelimit-*, for instance); may be nil.
	Headers http.Header
}

// Caller is the authenticated client of one request.
type Caller struct {
	KeyID     string
	KeyPrefix string
	OrgID     string
	TeamID    string
	UserID    string
	// AllowedModels lists the aliases the caller may use; empty or "*" means all.
	AllowedModels []string
	// AllowedRegions and AllowedProviders limit where requests may go
	// (glob patterns for regions); empty means anywhere.
	AllowedRegions   []string
	AllowedProviders []string
	// RequireZDR restricts the caller to zero-data-retention deployments.
	RequireZDR bool
	// AllowRouteOverride lets the caller choose the routing strategy per
	// request with the x-switchyard-strategy header.
	AllowRouteOverride bool
	// RPM and TPM are the caller's own rate limits; 0 means none.
	RPM, TPM int
	// TeamRPM and TeamTPM are the limits its team's keys share, as the
	// team's record in the store sets them; 0 means none.
	TeamRPM, TeamTPM int
	Metadata         map[string]string
}

// AllowsModel reports whether the caller may use alias.
func (c *Caller) AllowsModel(alias string) bool {
	if c == nil || len(c.AllowedModels) == 0 {
		return true
	}
	for _, m := range c.AllowedModels {
		if m == "*" || m == alias {
			return true
		}
	}
	return false
}

// RequestInfo is what the front door knows about a request beyond its body.
type RequestInfo struct {
	// ID is the request id, echoed in x-request-id.
	ID string
	// Caller is the authenticated caller; non-nil past authentication.
	Caller *Caller
	// Strategy is the routing strategy the client asked for, or "".
	Strategy string
	// FrontDoor names the API the client spoke: "openai" or "anthropic".
	FrontDoor string
	// ApprovalID is the x-switchyard-approval-id header: the client
	// resubmits a request whose tool call was held for approval.
	ApprovalID string
}

type infoKey struct{}

// WithRequestInfo returns ctx carrying info.
func WithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// RequestInfoFrom returns the request's info, or nil.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(infoKey{}).(*RequestInfo)
	return info
}
