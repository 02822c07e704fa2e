package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/switchyard/switchyard/internal/store"
)

func init() {
	register("approvals", "held requests: list, show, approve, deny", func(ctx context.Context, env *Env, args []string) error {
		return dispatch(ctx, env, "approvals", map[string]verb{
			"list":    {"list approvals (pending by default)", approvalsList},
			"show":    {"ID: show one approval", approvalsShow},
			"approve": {"ID [--comment]: release a held request", approvalsDecide(store.ApprovalApproved)},
			"deny":    {"ID [--comment]: discard a held request", approvalsDecide(store.ApprovalDenied)},
		}, args)
	})
}

func approvalsList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("approvals list", env)
	af := addAdminFlags(fs)
	status := fs.String("status", store.ApprovalPending, "`status` to list: pending, approved, denied, expired or all")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := exactly(pos); err != nil {
		return err
	}
	if *status == "all" {
		*status = ""
	}
	c, err := af.client()
	if err != nil {
		return err
	}
	list, err := c.ListApprovals(ctx, *status)
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, list)
	}
	rows := make([][]string, 0, len(list))
	for _, a := range list {
		rows = append(rows, []string{a.ID, a.Status, orDash(a.TeamID), orDash(a.Tool), orDash(a.Reason), stamp(a.CreatedAt), stamp(a.ExpiresAt)})
	}
	return table(env.Stdout, []string{"ID", "STATUS", "TEAM", "TOOL", "REASON", "CREATED", "EXPIRES"}, rows)
}

func approvalsShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("approvals show", env)
	af := addAdminFlags(fs)
	pos, c, err := af.connect(fs, args, "ID")
	if err != nil {
		return err
	}
	a, err := c.Approval(ctx, pos[0])
	if err != nil {
		return err
	}
	if af.json {
		return printJSON(env.Stdout, a)
	}
	return printApproval(env.Stdout, a)
}

func printApproval(w io.Writer, a store.Approval) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	decided := "-"
	if a.DecidedAt != nil {
		decided = stamp(*a.DecidedAt) + " by " + a.DecidedBy
	}
	for _, kv := range [][2]string{
		{"ID", a.ID}, {"Status", a.Status}, {"Team", orDash(a.TeamID)}, {"Key", orDash(a.KeyID)},
		{"Tool", orDash(a.Tool)}, {"Arguments", orDash(a.ArgumentsRedacted)}, {"Reason", orDash(a.Reason)},
		{"Policy", orDash(a.PolicyVersion)}, {"Created", stamp(a.CreatedAt)}, {"Expires", stamp(a.ExpiresAt)},
		{"Decided", decided}, {"Comment", orDash(a.Comment)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

// approvalsDecide returns the approve or deny verb for verdict.
func approvalsDecide(verdict string) func(ctx context.Context, env *Env, args []string) error {
	name := map[string]string{store.ApprovalApproved: "approve", store.ApprovalDenied: "deny"}[verdict]
	return func(ctx context.Context, env *Env, args []string) error {
		fs := newFlags("approvals "+name, env)
		af := addAdminFlags(fs)
		comment := fs.String("comment", "", "`text` recorded with the decision")
		pos, err := parseArgs(fs, args)
		if err != nil {
			return err
		}
		if err := exactly(pos, "ID"); err != nil {
			return err
		}
		c, err := af.client()
		if err != nil {
			return err
		}
		decide := c.Deny
		if verdict == store.ApprovalApproved {
			decide = c.Approve
		}
		a, err := decide(ctx, pos[0], *comment)
		if err != nil {
			return err
		}
		if af.json {
			return printJSON(env.Stdout, a)
		}
		return printApproval(env.Stdout, a)
	}
}
