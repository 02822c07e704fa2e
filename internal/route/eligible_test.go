package route

import (
	"context"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDoRefusals(t *testing.T) {
	deps := []*Deployment{
		{Name: "azure-weu", Provider: "azure", Region: "westeurope", ModelVersion: "2024-08-06",
			Caps: Caps{Tools: true, Vision: true, MaxContext: 128000}},
		{Name: "openai-us", Provider: "openai", Region: "us-east-1", ModelVersion: "2024-11-20",
			Caps: Caps{Tools: true, JSONSchema: true, MaxContext: 128000}},
	}
	r := mustRouter(t, deps, []PoolConfig{
		{Alias: "gpt-4o", Deployments: []string{"azure-weu", "openai-us"}},
		{Alias: "claude@20240620", Deployments: []string{"openai-us"}},
	}, Options{Clock: newFakeClock()})
	tests := []struct {
		desc      string
		alias     string
		req       Requirements
		status    int
		code      string
		param     string
		mustSay   []string
		mustntSay []string
	}{
		{desc: "unknown alias", alias: "gpt-9", status: 404, code: "model_not_found", param: "model",
			mustSay: []string{`"gpt-9"`, "GET /v1/models"}, mustntSay: []string{"azure-weu", "openai-us", "westeurope"}},
		{desc: "unknown pinned version", alias: "gpt-4o", req: Requirements{PinnedVersion: "2023-01-01"}, status: 404, code: "model_version_not_found",
			mustSay: []string{`"2023-01-01"`, "2024-08-06", "2024-11-20"}},
		{desc: "region", alias: "gpt-4o", req: Requirements{AllowedRegions: []string{"ap-*"}}, status: 403, code: "residency_violation",
			mustSay: []string{"regions ap-*", "no deployment"}, mustntSay: []string{"westeurope"}},
		{desc: "provider after region", alias: "gpt-4o", req: Requirements{AllowedRegions: []string{"westeurope"}, AllowedProviders: []string{"openai"}},
			status: 403, code: "residency_violation", mustSay: []string{"providers openai", "among those in regions westeurope"}},
		{desc: "zdr", alias: "gpt-4o", req: Requirements{RequireZDR: true}, status: 403, code: "residency_violation", mustSay: []string{"zero data retention"}},
		{desc: "vision", alias: "claude@20240620", req: Requirements{Vision: true}, status: 400, code: "unsupported_capability", param: "messages",
			mustSay: []string{"vision", "remove the images"}},
		{desc: "json_schema within residency", alias: "gpt-4o", req: Requirements{JSONSchema: true, AllowedRegions: []string{"westeurope"}},
			status: 400, code: "unsupported_capability", param: "response_format", mustSay: []string{"json_schema", "that your key may use"}},
		{desc: "embeddings", alias: "gpt-4o", req: Requirements{Embeddings: true}, status: 400, code: "unsupported_capability", param: "model",
			mustSay: []string{"embeddings model"}},
		{desc: "context", alias: "gpt-4o", req: Requirements{EstimatedInputTokens: 127000, MaxOutputTokens: 4096}, status: 400,
			code: "context_length_exceeded", param: "messages", mustSay: []string{"131096", "128000", "max_tokens"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			calls := 0
			out, err := r.Do(context.Background(), tc.alias, tc.req, func(context.Context, *Deployment) error { calls++; return nil })
			le := asLLM(t, err)
			if le.Status != tc.status || le.Code != tc.code || le.Param != tc.param {
				t.Fatalf("got %d %s param %q, want %d %s param %q (%s)", le.Status, le.Code, le.Param, tc.status, tc.code, tc.param, le.Message)
			}
			if le.Type != typeFor(tc.status) {
				t.Errorf("type %s for status %d", le.Type, tc.status)
			}
			for _, s := range tc.mustSay {
				if !strings.Contains(le.Message, s) {
					t.Errorf("message %q does not say %q", le.Message, s)
				}
			}
			for _, s := range tc.mustntSay {
				if strings.Contains(le.Message, s) {
					t.Errorf("message %q reveals %q", le.Message, s)
				}
			}
			if calls != 0 || out.Attempts != 0 {
				t.Errorf("a refused request made %d attempts", calls)
			}
		})
	}
}

func typeFor(status int) string {
	return map[int]string{400: "invalid_request_error", 403: "permission_error", 404: "not_found_error"}[status]
}

func TestDoPinnedAliases(t *testing.T) {
	deps := []*Deployment{{Name: "a", ModelVersion: "20240620"}, {Name: "b", ModelVersion: "20241022"}}
	r := mustRouter(t, deps, []PoolConfig{
		{Alias: "claude@20240620", Deployments: []string{"a"}},
		{Alias: "claude", Deployments: []string{"a", "b"}},
	}, Options{Clock: newFakeClock()})
	if got := r.PinnedVersion("claude@20240620"); got != "20240620" {
		t.Errorf("PinnedVersion = %q", got)
	}
	if got := r.PinnedVersion("claude"); got != "" {
		t.Errorf("mixed pool reported pinned to %q", got)
	}
	tests := []struct{ model, want string }{
		{model: "claude@20240620", want: "a"},
		{model: "claude@20241022", want: "b"},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			alias, v := ParseModel(tc.model)
			out, err := r.Do(context.Background(), alias, Requirements{PinnedVersion: v}, func(context.Context, *Deployment) error { return nil })
			if err != nil || out.Deployment.Name != tc.want {
				t.Fatalf("got %v, %v; want %s", out.Deployment, err, tc.want)
			}
		})
	}
}

func TestParseModel(t *testing.T) {
	tests := []struct{ in, alias, version string }{
		{"gpt-5@2025-08-07", "gpt-5", "2025-08-07"},
		{"gpt-5", "gpt-5", ""},
		{"a@b@c", "a@b", "c"},
		{"@v1", "@v1", ""},
		{"gpt-5@", "gpt-5@", ""},
		{"", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			a, v := ParseModel(tc.in)
			if a != tc.alias || v != tc.version {
				t.Errorf("ParseModel(%q) = %q, %q; want %q, %q", tc.in, a, v, tc.alias, tc.version)
			}
		})
	}
}

func FuzzParseModel(f *testing.F) {
	for _, s := range []string{"gpt-5@2025-08-07", "gpt-5", "@", "a@@b", "x@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, v := ParseModel(s)
		if v == "" && a != s {
			t.Fatalf("ParseModel(%q) lost text: %q", s, a)
		}
		if v != "" && a+"@"+v != s {
			t.Fatalf("ParseModel(%q) = %q, %q does not rebuild it", s, a, v)
		}
		if a == "" && s != "" {
			t.Fatalf("ParseModel(%q) gave an empty alias", s)
		}
	})
}

func TestRegionGlobs(t *testing.T) {
	tests := []struct {
		region string
		globs  []string
		want   bool
	}{
		{"eu-west-1", []string{"eu-*"}, true},
		{"europe-west4", []string{"eu-*"}, false},
		{"europe-west4", []string{"europe-*"}, true},
		{"WestEurope", []string{"westeurope"}, true},
		{"us-east-1", []string{"eu-*", "westeurope"}, false},
		{"", []string{"*"}, false},
		{"eu-west-1", []string{"[eu-*"}, false}, // malformed glob fails closed
	}
	for _, tc := range tests {
		t.Run(tc.region+"/"+strings.Join(tc.globs, ","), func(t *testing.T) {
			if got := regionAllowed(tc.region, tc.globs); got != tc.want {
				t.Errorf("regionAllowed(%q, %q) = %v", tc.region, tc.globs, got)
			}
		})
	}
}

func TestPoolConfigValidate(t *testing.T) {
	tests := []struct {
		desc    string
		cfg     PoolConfig
		wantErr string
	}{
		{desc: "minimal", cfg: PoolConfig{Alias: "m", Deployments: []string{"a"}}},
		{desc: "no alias", cfg: PoolConfig{Deployments: []string{"a"}}, wantErr: "alias: is required"},
		{desc: "bad strategy", cfg: PoolConfig{Alias: "m", Strategy: "random", Deployments: []string{"a"}}, wantErr: `unknown strategy "random"`},
		{desc: "no deployments", cfg: PoolConfig{Alias: "m"}, wantErr: "list at least one deployment"},
		{desc: "duplicate deployment", cfg: PoolConfig{Alias: "m", Deployments: []string{"a", "a"}}, wantErr: `"a" is listed twice`},
		{desc: "ratio above one", cfg: PoolConfig{Alias: "m", Deployments: []string{"a"}, Breaker: BreakerConfig{FailureRatio: 1.5}}, wantErr: "failure_ratio"},
		{desc: "max open below open", cfg: PoolConfig{Alias: "m", Deployments: []string{"a"}, Breaker: BreakerConfig{OpenFor: time.Minute, MaxOpenFor: time.Second}}, wantErr: "max_open_for"},
		{desc: "max backoff below base", cfg: PoolConfig{Alias: "m", Deployments: []string{"a"}, Retry: RetryConfig{BaseBackoff: time.Second, MaxBackoff: time.Millisecond}}, wantErr: "max_backoff"},
		{desc: "negative attempts", cfg: PoolConfig{Alias: "m", Deployments: []string{"a"}, Retry: RetryConfig{MaxAttempts: -1}}, wantErr: "max_attempts"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestPoolConfigYAML(t *testing.T) {
	src := `
alias: gpt-4o
strategy: latency
deployments: [a, b]
hedge: {enabled: true, delay: 1500ms}
breaker: {failure_threshold: 3, open_for: 10s}
retry: {max_attempts: 4, deadline: 1m}
`
	var c PoolConfig
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.withDefaults()
	if d.Strategy != StrategyLatency || !d.Hedge.Enabled || d.Hedge.Delay != 1500*time.Millisecond ||
		d.Breaker.FailureThreshold != 3 || d.Breaker.OpenFor != 10*time.Second || d.Breaker.MaxOpenFor != 80*time.Second ||
		d.Retry.MaxAttempts != 4 || d.Retry.Deadline != time.Minute || d.Retry.BaseBackoff != DefaultBaseBackoff {
		t.Fatalf("decoded with defaults: %+v", d)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		desc    string
		deps    []*Deployment
		pools   []PoolConfig
		wantErr string
	}{
		{desc: "duplicate deployment", deps: []*Deployment{{Name: "a"}, {Name: "a"}}, wantErr: `"a" is defined twice`},
		{desc: "unnamed deployment", deps: []*Deployment{{}}, wantErr: "has no name"},
		{desc: "negative weight", deps: []*Deployment{{Name: "a", Weight: -1}}, wantErr: "weight"},
		{desc: "unknown deployment", deps: []*Deployment{{Name: "a"}}, pools: []PoolConfig{{Alias: "m", Deployments: []string{"b"}}}, wantErr: `no deployment named "b"`},
		{desc: "duplicate alias", deps: []*Deployment{{Name: "a"}},
			pools: []PoolConfig{{Alias: "m", Deployments: []string{"a"}}, {Alias: "m", Deployments: []string{"a"}}}, wantErr: `"m" is defined twice`},
		{desc: "invalid pool", deps: []*Deployment{{Name: "a"}}, pools: []PoolConfig{{Alias: "m", Strategy: "x", Deployments: []string{"a"}}}, wantErr: "unknown strategy"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := New(tc.deps, tc.pools, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

func TestRouterListing(t *testing.T) {
	deps := []*Deployment{{Name: "a", Provider: "openai", Region: "us-east-1", ModelVersion: "1", Quota: Quota{RPM: 60, TPM: 1000}}, {Name: "b"}}
	r := mustRouter(t, deps, []PoolConfig{{Alias: "z", Deployments: []string{"b", "a"}}, {Alias: "a", Deployments: []string{"a"}}}, Options{Clock: newFakeClock()})
	if got := strings.Join(r.Aliases(), ","); got != "a,z" {
		t.Errorf("Aliases = %s", got)
	}
	if got := strings.Join(names(r.Pool("z")), ","); got != "b,a" {
		t.Errorf("Pool(z) = %s", got)
	}
	if r.Pool("nope") != nil {
		t.Error("Pool of an unknown alias is not nil")
	}
	if cfg, ok := r.PoolConfig("a"); !ok || cfg.Strategy != StrategyFailover || cfg.Retry.MaxAttempts != DefaultMaxAttempts {
		t.Errorf("PoolConfig(a) = %+v, %v", cfg, ok)
	}
	st := r.Status()
	if len(st) != 2 || st[0].Name != "a" || st[0].Provider != "openai" || st[0].Region != "us-east-1" || st[0].ModelVersion != "1" ||
		st[0].Breaker != "closed" || !st[0].Healthy || st[0].RPM != 60 || st[0].TPM != 1000 || st[0].RemainingRequests != -1 {
		t.Errorf("Status = %+v", st)
	}
}

func TestReloadKeepsLiveState(t *testing.T) {
	clk := newFakeClock()
	pools := []PoolConfig{{Alias: "m", Deployments: []string{"a"}, Breaker: BreakerConfig{FailureThreshold: 1, OpenFor: time.Hour}}}
	old := mustRouter(t, []*Deployment{{Name: "a", Model: "x"}}, pools, Options{Clock: clk})
	old.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { return unavailable() })

	same := mustRouter(t, []*Deployment{{Name: "a", Model: "x"}}, pools, Options{Clock: clk, Previous: old})
	if st := same.Status()[0]; st.Breaker != "open" || st.RequestsThisMinute != 1 {
		t.Errorf("reloaded unchanged deployment lost its state: %+v", st)
	}
	changed := mustRouter(t, []*Deployment{{Name: "a", Model: "y"}}, pools, Options{Clock: clk, Previous: old})
	if st := changed.Status()[0]; st.Breaker != "closed" || st.RequestsThisMinute != 0 {
		t.Errorf("a deployment pointing elsewhere kept the old state: %+v", st)
	}
}

func TestProbesRecoverDeployment(t *testing.T) {
	ev := &events{}
	deps := []*Deployment{{Name: "a"}}
	r := mustRouter(t, deps, []PoolConfig{{Alias: "m", Deployments: []string{"a"},
		Breaker: BreakerConfig{FailureThreshold: 1, OpenFor: 5 * time.Millisecond}, Retry: RetryConfig{MaxAttempts: 1}}},
		Options{OnBreakerChange: ev.record})
	r.Do(context.Background(), "m", Requirements{}, func(context.Context, *Deployment) error { return unavailable() })
	if r.Status()[0].Healthy {
		t.Fatal("breaker did not open")
	}
	ctx, cancel := context.WithCancel(context.Background())
	probed := make(chan struct{}, 100)
	r.StartProbes(ctx, 2*time.Millisecond, func(context.Context, *Deployment) error {
		select {
		case probed <- struct{}{}:
		default:
		}
		return nil
	})
	for deadline := time.Now().Add(10 * time.Second); !r.Status()[0].Healthy; {
		if time.Now().After(deadline) {
			t.Fatal("a successful probe never closed the breaker")
		}
		<-probed
	}
	cancel()
	list := ev.list("a")
	if last := list[len(list)-1]; last.From != BreakerHalfOpen || last.To != BreakerClosed {
		t.Errorf("last transition %v -> %v, want half-open -> closed", last.From, last.To)
	}
	// goleak in TestMain checks the probe goroutine ended with ctx.
}
