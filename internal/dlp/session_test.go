package dlp

import (
	"errors"
	"strings"
	"testing"
)

func TestApplyActions(t *testing.T) {
	t.Parallel()
	const text = "mail jane@example.com, card 4111-1111-1111-1111, ip 10.0.0.1"
	tests := []struct {
		desc    string
		cfg     Config
		want    string
		blocked string // detector named by the BlockedError, or ""
	}{
		{"alert changes nothing", Config{}, text, ""},
		{"allow changes nothing", Config{DefaultAction: ActionAllow}, text, ""},
		{"mask", Config{Actions: map[string]Action{Email: ActionMask, Card: ActionMask}},
			"mail [EMAIL], card ****1111, ip 10.0.0.1", ""},
		{"redact", Config{DefaultAction: ActionRedact},
			"mail [EMAIL_1], card [CARD_1], ip [IP_1]", ""},
		{"block", Config{Actions: map[string]Action{Email: ActionMask, Card: ActionBlock}}, "", Card},
		{"disabled", Config{DefaultAction: ActionMask, Disable: []string{Email, IPv4}},
			"mail jane@example.com, card ****1111, ip 10.0.0.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			s := mustNew(t, tt.cfg)
			got, fs, err := s.Apply(text, NewSession())
			if tt.blocked != "" {
				var be *BlockedError
				if !errors.As(err, &be) || be.Detector != tt.blocked {
					t.Fatalf("err = %v; want BlockedError for %q", err, tt.blocked)
				}
				if strings.Contains(err.Error(), "4111") || !strings.Contains(err.Error(), tt.blocked) || !strings.Contains(err.Error(), "remove it") {
					t.Errorf("block message %q must name the detector, say what to do and not echo the value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Apply = %q; want %q", got, tt.want)
			}
			if len(fs) != 3-len(tt.cfg.Disable) {
				t.Errorf("findings = %v", fs)
			}
		})
	}
}

func TestRedactRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{DefaultAction: ActionRedact})
	sess := NewSession()
	in := "I am jane@example.com; again jane@example.com; boss is bob@example.org; card 4111111111111111"
	out, _, err := s.Apply(in, sess)
	if err != nil {
		t.Fatal(err)
	}
	want := "I am [EMAIL_1]; again [EMAIL_1]; boss is [EMAIL_2]; card [CARD_1]"
	if out != want {
		t.Fatalf("Apply = %q; want %q", out, want)
	}
	// A second message of the same request reuses the placeholders.
	out2, _, _ := s.Apply("cc bob@example.org", sess)
	if out2 != "cc [EMAIL_2]" {
		t.Errorf("second message = %q; want same placeholder", out2)
	}
	if got := sess.Restore(out); got != in {
		t.Errorf("Restore = %q; want %q", got, in)
	}
	answer := "Dear [EMAIL_2], [EMAIL_1] paid with [CARD_1]. [EMAIL_9] and [NOT A PLACEHOLDER] stay."
	wantAnswer := "Dear bob@example.org, jane@example.com paid with 4111111111111111. [EMAIL_9] and [NOT A PLACEHOLDER] stay."
	if got := sess.Restore(answer); got != wantAnswer {
		t.Errorf("Restore(answer) = %q; want %q", got, wantAnswer)
	}
}

func TestRedactSkipsPlaceholdersTheUserWrote(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{DefaultAction: ActionRedact})
	sess := NewSession()
	in := "literal [EMAIL_1] and jane@example.com"
	out, _, _ := s.Apply(in, sess)
	if out != "literal [EMAIL_1] and [EMAIL_2]" {
		t.Fatalf("Apply = %q", out)
	}
	if got := sess.Restore(out); got != in {
		t.Errorf("Restore = %q; want %q", got, in)
	}
}

func TestApplyNilSessionMasks(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{DefaultAction: ActionRedact})
	got, _, err := s.Apply("to jane@example.com", nil)
	if err != nil || got != "to [EMAIL]" {
		t.Errorf("Apply(nil session) = %q, %v; want masked", got, err)
	}
}

func TestWithActions(t *testing.T) {
	t.Parallel()
	base := mustNew(t, Config{Actions: map[string]Action{Email: ActionMask}})
	team, err := base.WithActions(map[string]Action{Email: ActionBlock})
	if err != nil {
		t.Fatal(err)
	}
	if base.Action(Email) != ActionMask || team.Action(Email) != ActionBlock || team.Action(Card) != ActionAlert {
		t.Errorf("actions: base %s, team %s/%s", base.Action(Email), team.Action(Email), team.Action(Card))
	}
	if _, err := base.WithActions(map[string]Action{"nope": ActionBlock}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown detector: err = %v", err)
	}
}

func TestCustomDetectors(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{
		DefaultAction: ActionRedact,
		Custom: []CustomDetector{
			{Name: "project", Pattern: `PRJ-[0-9]{4}`},
			{Name: "codename", Words: []string{"Falcon", "blue harbor"}},
			{Name: "exact", Words: []string{"ACME"}, CaseSensitive: true, Label: "ORG"},
		},
	})
	tests := []struct{ in, want string }{
		{"ticket PRJ-1234 for falcon", "ticket [PROJECT_1] for [CODENAME_1]"},
		{"Blue Harbor, FALCONS, acme, ACME", "[CODENAME_1], FALCONS, acme, [ORG_1]"},
		{"PRJ-12 is short", "PRJ-12 is short"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, _, err := s.Apply(tt.in, NewSession())
			if err != nil || got != tt.want {
				t.Errorf("Apply(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		cfg  Config
		want string
	}{
		{"bad default", Config{DefaultAction: "shred"}, `default_action "shred"`},
		{"bad action", Config{Actions: map[string]Action{Email: "shred"}}, `detector "email": action "shred"`},
		{"unknown action detector", Config{Actions: map[string]Action{"mail": ActionMask}}, `unknown detector "mail"`},
		{"unknown disable", Config{Disable: []string{"mail"}}, `unknown detector "mail"`},
		{"bad regex", Config{Custom: []CustomDetector{{Name: "x", Pattern: "("}}}, `custom detector "x": pattern`},
		{"empty regex", Config{Custom: []CustomDetector{{Name: "x", Pattern: "a*"}}}, "matches the empty string"},
		{"both", Config{Custom: []CustomDetector{{Name: "x", Pattern: "a", Words: []string{"b"}}}}, "not both"},
		{"neither", Config{Custom: []CustomDetector{{Name: "x"}}}, "set pattern or words"},
		{"bad name", Config{Custom: []CustomDetector{{Name: "X y", Words: []string{"b"}}}}, "lower case"},
		{"taken name", Config{Custom: []CustomDetector{{Name: "email", Words: []string{"b"}}}}, "already taken"},
		{"bad label", Config{Custom: []CustomDetector{{Name: "x", Words: []string{"b"}, Label: "x]"}}}, "label"},
		{"empty word", Config{Custom: []CustomDetector{{Name: "x", Words: []string{" "}}}}, "empty entry"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: err = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}
