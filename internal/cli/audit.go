package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/switchyard/switchyard/internal/admin/client"
)

func init() {
	register("audit", "audit log: export (JSON Lines), verify (check the hash chain)", func(ctx context.Context, env *Env, args []string) error {
		return dispatch(ctx, env, "audit", map[string]verb{
			"export": {"write audit records as JSON Lines", auditExport},
			"verify": {"verify the audit chain and its signed checkpoints", auditVerify},
		}, args)
	})
}

func auditExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("audit export", env)
	af := addAdminFlags(fs)
	from := fs.String("from", "", "start: RFC 3339 `time`, date, or duration ago (default: the beginning)")
	to := fs.String("to", "", "end: RFC 3339 `time`, date, or duration ago (default: now)")
	var f client.AuditFilter
	fs.StringVar(&f.TeamID, "team", "", "only records of team `id`")
	out := fs.String("out", "", "write to `file` instead of standard output")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := exactly(pos); err != nil {
		return err
	}
	now := time.Now()
	if f.From, err = parseWhen("from", *from, now); err != nil {
		return err
	}
	if f.To, err = parseWhen("to", *to, now); err != nil {
		return err
	}
	c, err := af.client()
	if err != nil {
		return err
	}
	if *out == "" {
		// The export is JSON Lines either way; --json changes nothing.
		return c.AuditExport(ctx, f, env.Stdout)
	}
	file, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := c.AuditExport(ctx, f, file); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// verifyReport is the part of the verifier's report the table shows.
type verifyReport struct {
	FirstSeq, LastSeq int64
	Records           int
	Checkpoints       int
	AnchorSeq         int64
	Issues            []struct {
		Seq    int64  `json:"seq"`
		Kind   string `json:"kind"`
		Detail string `json:"detail"`
	}
}

func auditVerify(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("audit verify", env)
	af := addAdminFlags(fs)
	_, c, err := af.connect(fs, args)
	if err != nil {
		return err
	}
	res, err := c.AuditVerify(ctx)
	if err != nil {
		return err
	}
	if af.json {
		if err := printJSON(env.Stdout, res); err != nil {
			return err
		}
	} else if err := printVerify(env, res.Report, res.OK); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("the audit chain failed verification; see the issues above")
	}
	return nil
}

func printVerify(env *Env, raw json.RawMessage, ok bool) error {
	var rep verifyReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		// Not the shape we know: show it as it came.
		var buf bytes.Buffer
		_ = json.Indent(&buf, raw, "", "  ")
		fmt.Fprintln(env.Stdout, buf.String())
		return nil
	}
	verdict := "intact"
	if !ok {
		verdict = "BROKEN"
	}
	fmt.Fprintf(env.Stdout, "Audit chain %s: %d records (seq %d-%d), %d verified checkpoints", verdict, rep.Records, rep.FirstSeq, rep.LastSeq, rep.Checkpoints)
	if rep.AnchorSeq > 0 {
		fmt.Fprintf(env.Stdout, ", anchored at seq %d after retention", rep.AnchorSeq)
	}
	fmt.Fprintln(env.Stdout)
	if len(rep.Issues) == 0 {
		return nil
	}
	fmt.Fprintln(env.Stdout)
	rows := make([][]string, 0, len(rep.Issues))
	for _, is := range rep.Issues {
		rows = append(rows, []string{fmt.Sprint(is.Seq), is.Kind, is.Detail})
	}
	return table(env.Stdout, []string{"SEQ", "ISSUE", "DETAIL"}, rows)
}
