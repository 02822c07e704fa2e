package usage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSpillReplay feeds arbitrary bytes as a spill file: replay must not
// panic, and every non-blank line must end up either delivered or in the
// .corrupt file, never lost.
func FuzzSpillReplay(f *testing.F) {
	f.Add([]byte(`{"id":"a","n":1}` + "\n" + `{"id":"b"}` + "\n"))
	f.Add([]byte(`{"id":"a"` + "\n\n" + `[1,2]` + "\n" + `{"id":"c"}`))
	f.Add([]byte("\x00\xff\n{}\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		path := filepath.Join(t.TempDir(), "spill.jsonl")
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		s := &spillFile[rec]{path: path}
		delivered := 0
		if _, err := s.replay(context.Background(), 3, func(_ context.Context, b []rec) error {
			delivered += len(b)
			return nil
		}); err != nil {
			t.Fatalf("replay: %v", err)
		}
		corrupt, _ := os.ReadFile(path + ".corrupt")
		lines := 0
		for _, l := range bytes.Split(body, []byte{'\n'}) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if got := delivered + bytes.Count(corrupt, []byte{'\n'}); got != lines {
			t.Fatalf("%d non-blank lines in, %d delivered + quarantined out", lines, got)
		}
	})
}
