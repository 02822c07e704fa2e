package dlp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func redactedSession(t testing.TB, in string) (string, *Session) {
	t.Helper()
	s := mustNew(t, Config{DefaultAction: ActionRedact})
	sess := NewSession()
	out, _, err := s.Apply(in, sess)
	if err != nil {
		t.Fatal(err)
	}
	return out, sess
}

func TestStreamRestorerEverySplit(t *testing.T) {
	t.Parallel()
	in := "Hi jane@example.com, card 4111111111111111 [x] and [EMAIL] [ [EMAIL_1] end["
	answer, sess := redactedSession(t, in)
	// Every pair of split points: three chunks.
	for i := 0; i <= len(answer); i++ {
		for j := i; j <= len(answer); j++ {
			r := NewStreamRestorer(sess)
			got := r.Write(answer[:i]) + r.Write(answer[i:j]) + r.Write(answer[j:]) + r.Flush()
			if got != in {
				t.Fatalf("split %d,%d: got %q; want %q", i, j, got, in)
			}
		}
	}
}

func TestStreamRestorerHoldsOnlyPlaceholderPrefix(t *testing.T) {
	t.Parallel()
	_, sess := redactedSession(t, "jane@example.com")
	tests := []struct{ delta, ready string }{
		{"Dear [EMA", "Dear "},
		{"IL_1", ""},
		{"] thanks [", "jane@example.com thanks "},
		{"see]", "[see]"},
		{" [ABCDEFGHIJKLMNOPQRSTUVWXYZ", " [ABCDEFGHIJKLMNOPQRSTUVWXYZ"}, // longer than any placeholder
	}
	r := NewStreamRestorer(sess)
	for _, tt := range tests {
		if got := r.Write(tt.delta); got != tt.ready {
			t.Errorf("Write(%q) = %q; want %q", tt.delta, got, tt.ready)
		}
	}
	if got := r.Flush(); got != "" {
		t.Errorf("Flush = %q", got)
	}
}

func TestStreamRestorerEmptySessionPassesThrough(t *testing.T) {
	t.Parallel()
	r := NewStreamRestorer(NewSession())
	if got := r.Write("[EMA"); got != "[EMA" {
		t.Errorf("Write = %q; want passed through", got)
	}
}

// streamAll feeds chunks to a StreamScanner and returns its output.
func streamAll(t testing.TB, ss *StreamScanner, chunks ...string) (string, error) {
	t.Helper()
	var b strings.Builder
	for _, c := range chunks {
		out, err := ss.Write(c)
		if err != nil {
			return b.String(), err
		}
		b.WriteString(out)
	}
	out, err := ss.Flush()
	b.WriteString(out)
	return b.String(), err
}

func TestStreamScannerEverySplit(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{DefaultAction: ActionMask, Actions: map[string]Action{Phone: ActionRedact}})
	text := "Reach me at jane@example.com or +44 20 7946 0958; card 4111 1111 1111 1111; " +
		"not a card 41111111111111110000; ssn 123-45-6789 and some more prose to pass the window."
	want, _, err := s.Apply(text, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantFound := found(text, s.Scan(text))
	for _, opts := range []StreamOptions{{Window: 40}, {}} {
		for i := 0; i <= len(text); i++ {
			for _, j := range []int{i, (i + len(text)) / 2, len(text)} {
				ss := s.NewStreamScanner(opts)
				got, err := streamAll(t, ss, text[:i], text[i:j], text[j:])
				if err != nil || got != want {
					t.Fatalf("window %d split %d,%d: got %q, %v; want %q", opts.Window, i, j, got, err, want)
				}
				if got := found(text, ss.Findings()); !reflect.DeepEqual(got, wantFound) {
					t.Fatalf("split %d: findings %q; want %q", i, got, wantFound)
				}
			}
		}
	}
}

func TestStreamScannerByteByByte(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{DefaultAction: ActionMask})
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + strings.Repeat("eyJzdWIiOiIxMjM0NTY3ODkwIn0", 8) + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	pem := "-----BEGIN PRIVATE KEY-----\n" + strings.Repeat("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n", 40) + "-----END PRIVATE KEY-----"
	text := proseOf(300) + " token " + jwt + " and key\n" + pem + "\n" + proseOf(300)
	want, _, _ := s.Apply(text, nil)
	if !strings.Contains(want, "[JWT]") || !strings.Contains(want, "[PRIVATE_KEY]") {
		t.Fatalf("whole-text masking missed a value: %q", want)
	}
	ss := s.NewStreamScanner(StreamOptions{Window: 64})
	var b strings.Builder
	for k := 0; k < len(text); k++ {
		out, err := ss.Write(text[k : k+1])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(out)
		if !strings.Contains(text[:k+1], "-----BEGIN") && !strings.Contains(text[max(0, k-len(jwt)-64):k+1], "eyJ") && len(ss.buf) > 2*64 {
			t.Fatalf("at %d: %d bytes held, above the 2×Window bound", k, len(ss.buf))
		}
	}
	out, _ := ss.Flush()
	b.WriteString(out)
	if b.String() != want {
		t.Errorf("byte-by-byte output differs:\n got %q\nwant %q", b.String(), want)
	}
}

func TestStreamScannerBlocks(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{Actions: map[string]Action{AWSAccessKey: ActionBlock}})
	ss := s.NewStreamScanner(StreamOptions{Window: 32})
	_, err := streamAll(t, ss, proseOf(100), " AKIAIOSFOD", "NN7EXAMPLE ", proseOf(100))
	var be *BlockedError
	if !errors.As(err, &be) || be.Detector != AWSAccessKey {
		t.Fatalf("err = %v; want BlockedError", err)
	}
	if _, err := ss.Write("more"); !errors.As(err, &be) {
		t.Errorf("Write after block: err = %v; want the BlockedError again", err)
	}
}
