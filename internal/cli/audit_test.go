package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/store"
)

func seal(head store.ChainHead, recs []store.AuditRecord) error {
	for i := range recs {
		recs[i].Seq = head.Seq + int64(i) + 1
		recs[i].Hash = fmt.Sprint("h", recs[i].Seq)
	}
	return nil
}

func TestAuditExportCommand(t *testing.T) {
	s := startAdmin(t, nil)
	now := time.Now().UTC()
	var recs []store.AuditRecord
	for i := range 3 {
		recs = append(recs, store.AuditRecord{ID: fmt.Sprint("a", i), Time: now.Add(-time.Duration(3-i) * time.Hour),
			ActorKind: store.ActorKey, TeamID: []string{"team_a", "team_b", "team_a"}[i], Action: "chat.completion"})
	}
	if _, err := s.st.AppendAudit(context.Background(), recs, seal); err != nil {
		t.Fatal(err)
	}
	seqs := func(jsonl string) string {
		var out []string
		for line := range strings.SplitSeq(strings.TrimSpace(jsonl), "\n") {
			var r store.AuditRecord
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			out = append(out, fmt.Sprint(r.Seq))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		args []string
		want string
	}{
		{nil, "1,2,3"},
		{[]string{"--team", "team_a"}, "1,3"},
		{[]string{"--from", "150m"}, "2,3"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			if got := seqs(s.ok(append([]string{"audit", "export"}, c.args...)...)); got != c.want {
				t.Errorf("seqs = %s; want %s", got, c.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if out := s.ok("audit", "export", "--out", path); out != "" {
		t.Errorf("stdout with --out = %q", out)
	}
	raw, err := os.ReadFile(path)
	if err != nil || seqs(string(raw)) != "1,2,3" {
		t.Errorf("file = %s, %v", raw, err)
	}
}

type fakeReport struct {
	FirstSeq, LastSeq int64
	Records           int
	Checkpoints       int
	AnchorSeq         int64
	Issues            []map[string]any
}

func (r fakeReport) OK() bool { return len(r.Issues) == 0 }

func TestAuditVerifyCommand(t *testing.T) {
	cases := []struct {
		name     string
		rep      fakeReport
		code     int
		contains []string
	}{
		{"intact", fakeReport{FirstSeq: 1, LastSeq: 40, Records: 40, Checkpoints: 2}, 0,
			[]string{"Audit chain intact: 40 records (seq 1-40), 2 verified checkpoints"}},
		{"broken", fakeReport{FirstSeq: 1, LastSeq: 9, Records: 9, Issues: []map[string]any{{"seq": 4, "kind": "modified", "detail": "hash mismatch"}}}, 1,
			[]string{"Audit chain BROKEN", "modified", "hash mismatch"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startAdmin(t, func(o *admin.Options) {
				o.AuditVerify = func(context.Context) (any, error) { return c.rep, nil }
			})
			code, out, errOut := s.run("audit", "verify")
			if code != c.code {
				t.Fatalf("exit %d; want %d (stderr %q)", code, c.code, errOut)
			}
			for _, w := range c.contains {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if c.code != 0 {
				if got := cell(t, out, "ISSUE", "4"); got != "modified" {
					t.Errorf("ISSUE = %q", got)
				}
				if !strings.Contains(errOut, "failed verification") {
					t.Errorf("stderr = %q", errOut)
				}
			}
			code, out, _ = s.run("audit", "verify", "--json")
			var body struct {
				OK     bool       `json:"ok"`
				Report fakeReport `json:"report"`
			}
			if err := json.Unmarshal([]byte(out), &body); err != nil || code != c.code || body.OK != (c.code == 0) || body.Report.Records != c.rep.Records {
				t.Errorf("--json: exit %d body %+v err %v", code, body, err)
			}
		})
	}
	s := startAdmin(t, nil)
	code, _, errOut := s.run("audit", "verify")
	if code != 1 || !strings.Contains(errOut, "not configured") {
		t.Errorf("without a verifier: exit %d stderr %q", code, errOut)
	}
}
