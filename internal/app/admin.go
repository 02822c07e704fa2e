package app

import (
	"net/http"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/govern"
)

// buildAdmin returns the admin API over the gateway's store, router,
// audit trail and approvals.
func buildAdmin(g *Gateway) http.Handler {
	opts := admin.Options{
		Store:          g.store,
		BootstrapToken: g.cfg.Admin.BootstrapToken,
		OIDC:           g.cfg.Admin.OIDC,
		Status:         func() any { return g.gw.Router().Status() },
		Logger:         g.log,
	}
	if g.approvals != nil {
		opts.Approvals = g.approvals
	}
	if g.gov != nil {
		log := govern.AdminAuditor(g.gov)
		opts.Audit = log
		opts.AuditVerify = log.Verify
	}
	return admin.New(opts)
}
