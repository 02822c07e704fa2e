package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/internal/provider"
)

type testOptions struct {
	BaseURL string `yaml:"base_url"`
	APIKey  string `yaml:"api_key"`
}

func (o *testOptions) Validate() error {
	if o.BaseURL == "" {
		return errors.New("base_url is required")
	}
	return nil
}

type nopProvider struct{ provider.Provider }

func init() {
	provider.Register("cfgtest", provider.Factory{
		NewOptions: func() any { return &testOptions{} },
		New:        func(provider.Config) (provider.Provider, error) { return nopProvider{}, nil },
	})
}

const validKey = "sk-sy-0123456789abcdefghijABCDEFGHIJ0123456789"

const valid = `
server:
  listen: 127.0.0.1:9999
keys:
  - name: k
    secret: ${KEY}
deployments:
  - name: d1
    provider: cfgtest
    model: m
    region: eu-west-1
    options:
      base_url: http://x
      api_key: ${file:SECRETFILE}
models:
  - alias: a
    deployments: [d1]
`

func env(vars map[string]string) ParseOptions {
	return ParseOptions{
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if p == "SECRETFILE" {
				return []byte("from-file\n"), nil
			}
			return nil, os.ErrNotExist
		},
	}
}

func TestParseValid(t *testing.T) {
	cfg, err := Parse([]byte(valid), env(map[string]string{"KEY": validKey}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Keys[0].Secret != validKey {
		t.Errorf("env not expanded: %q", cfg.Keys[0].Secret)
	}
	opts := cfg.Deployments[0].ProviderOptions().(*testOptions)
	if opts.APIKey != "from-file" {
		t.Errorf("file reference not expanded (or newline kept): %q", opts.APIKey)
	}
	if cfg.Server.MaxBodyBytes != 10<<20 || cfg.Store.DSN != DefaultStoreDSN || cfg.Deployments[0].Weight != 1 {
		t.Errorf("defaults not applied: %+v %+v", cfg.Server, cfg.Store)
	}
}

// TestParseErrors checks that every problem is reported with its line and
// the field it concerns.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		vars map[string]string
		want []string
	}{
		{"unknown top-level field", func(s string) string { return s + "\nlisten_addr: x\n" }, nil,
			[]string{"line 19: top level: unknown field \"listen_addr\""}},
		{"unknown nested field", func(s string) string { return strings.Replace(s, "  listen:", "  lisen:", 1) }, nil,
			[]string{"line 3: server: unknown field \"lisen\""}},
		{"missing env", func(s string) string { return s }, map[string]string{},
			[]string{"line 6: environment variable KEY is not set"}},
		{"bad key secret", func(s string) string { return s }, map[string]string{"KEY": "sk-sy-short"},
			[]string{"line 6: keys[0].secret: must be a Switchyard key"}},
		{"unknown provider", func(s string) string { return strings.Replace(s, "provider: cfgtest", "provider: nope", 1) }, nil,
			[]string{"line 9: deployments[0].provider: unknown provider \"nope\""}},
		{"unknown option", func(s string) string { return strings.Replace(s, "      base_url:", "      baseurl:", 1) }, nil,
			[]string{"line 13: deployments[0].options: unknown field \"baseurl\""}},
		{"option validation", func(s string) string { return strings.Replace(s, "      base_url: http://x\n", "", 1) }, nil,
			[]string{"deployments[0].options: base_url is required"}},
		{"missing region", func(s string) string { return strings.Replace(s, "    region: eu-west-1\n", "", 1) }, nil,
			[]string{"line 8: deployments[0].region: is required"}},
		{"unknown deployment in pool", func(s string) string { return strings.Replace(s, "[d1]", "[d2]", 1) }, nil,
			[]string{"models[0].deployments[0]: no deployment named \"d2\""}},
		{"bad log level", func(s string) string { return strings.Replace(s, "server:\n", "server:\n  log_level: loud\n", 1) }, nil,
			[]string{"line 3: server.log_level: must be debug, info, warn or error"}},
		{"not yaml", func(string) string { return "a: [" }, nil, []string{"not valid YAML"}},
		{"wrong type", func(s string) string { return strings.Replace(s, "server:\n", "server:\n  max_body_bytes: lots\n", 1) }, nil,
			[]string{"line 3: server.max_body_bytes: cannot unmarshal"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := tt.vars
			if vars == nil {
				vars = map[string]string{"KEY": validKey}
			}
			_, err := Parse([]byte(tt.edit(valid)), env(vars))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v, want config.Errors", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	t.Setenv("KEY", validKey)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	if err := os.WriteFile(path, []byte(strings.Replace(valid, "SECRETFILE", secret, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Deployments[0].ProviderOptions().(*testOptions).APIKey; got != "s3cret" {
		t.Errorf("api key %q", got)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file loaded")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("server: {listen: x}\nmodels: [{alias: a}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data, env(map[string]string{"KEY": validKey}))
	})
}
