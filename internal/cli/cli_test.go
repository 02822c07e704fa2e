package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("server:\n  listen: 127.0.0.1:1\n"), 0o600)
	os.WriteFile(bad, []byte("server:\n  listen: 127.0.0.1:1\n  log_level: loud\nstore:\n  dns: x\n"), 0o600)
	tests := []struct {
		name        string
		args        []string
		code        int
		out, errOut []string
	}{
		{"valid", []string{"config", "check", good}, 0, []string{"good.yaml: ok"}, nil},
		{"every problem with its line", []string{"config", "check", bad}, 1, nil,
			[]string{"line 5: store: unknown field \"dns\"", "2 problem(s)"}},
		{"missing file", []string{"config", "check", filepath.Join(dir, "nope.yaml")}, 1, nil, []string{"no such file"}},
		{"usage", []string{"config"}, 2, nil, []string{"switchyard config check FILE"}},
		{"unknown command", []string{"frobnicate"}, 2, nil, []string{"unknown command \"frobnicate\""}},
		{"bad flag", []string{"serve", "--no-such-flag"}, 2, nil, []string{"flag provided but not defined"}},
		{"version", []string{"version"}, 0, []string{"switchyard dev"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout %q lacks %q", out, w)
				}
			}
			for _, w := range tt.errOut {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
		})
	}
}
