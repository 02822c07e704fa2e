package dlp

import (
	"strings"
	"testing"
)

// prose is typical English text with the characters that wake detectors
// up (digits, capitals, ':', '-', '@'-free) but no sensitive value.
const prose = `In 2023, the Operations team reviewed 14 incidents across three regions. ` +
	`Most of them - roughly 60% - were caused by configuration drift: a setting changed in one place but not another. ` +
	`The review board met on Tuesday at 10:30 and agreed on a plan with 5 steps. ` +
	`Each service owner should audit their deployment, compare it against the baseline, and report gaps by March 3. ` +
	`As a result, the average time to recover fell from 47 minutes to 19 minutes, and customer-facing errors dropped sharply. ` +
	`See section 4.2 of the handbook for the escalation policy; questions go to the #ops-review channel. ` +
	"The quick brown fox jumps over the lazy dog while several engineers argue about tabs and spaces.\n"

func proseOf(n int) string {
	return strings.Repeat(prose, n/len(prose)+1)[:n]
}

func TestBenchmarkProseHasNoFindings(t *testing.T) {
	t.Parallel()
	s := mustNew(t, Config{})
	text := proseOf(64 << 10)
	if fs := s.Scan(text); fs != nil {
		t.Fatalf("prose has findings: %q", found(text, fs)[:1])
	}
}

func BenchmarkScan(b *testing.B) {
	s := mustNew(b, Config{})
	text := proseOf(1 << 20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if s.Scan(text) != nil {
			b.Fatal("unexpected finding")
		}
	}
}

func BenchmarkScanWithFindings(b *testing.B) {
	s := mustNew(b, Config{})
	text := proseOf(4<<10) + " mail jane@example.com card 4111 1111 1111 1111 key AKIAIOSFODNN7EXAMPLE"
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		s.Scan(text)
	}
}

func BenchmarkApplyRedact(b *testing.B) {
	s := mustNew(b, Config{DefaultAction: ActionRedact})
	text := proseOf(4<<10) + " mail jane@example.com card 4111 1111 1111 1111 phone +44 20 7946 0958"
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Apply(text, NewSession()); err != nil {
			b.Fatal(err)
		}
	}
}
