package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/admin"
	"github.com/switchyard/switchyard/internal/store"
)

const testToken = "cli-test-token"

// adminServer is a real admin API over a temporary SQLite store.
type adminServer struct {
	t   *testing.T
	url string
	st  store.Store
}

func startAdmin(t *testing.T, tweak func(*admin.Options)) *adminServer {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	t.Setenv(envAdminURL, "")
	t.Setenv(envAdminToken, "")
	st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "cli.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	opts := admin.Options{Store: st, BootstrapToken: testToken}
	if tweak != nil {
		tweak(&opts)
	}
	srv := httptest.NewServer(admin.New(opts))
	t.Cleanup(func() {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		srv.Close()
	})
	ctx := context.Background()
	if _, err := st.CreateOrg(ctx, store.Org{ID: "org_1", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateTeam(ctx, store.Team{ID: "team_a", OrgID: "org_1", Name: "Alpha", AllowedModels: []string{"gpt-4o"}}); err != nil {
		t.Fatal(err)
	}
	return &adminServer{t: t, url: srv.URL, st: st}
}

// run runs the command line with the server's URL and token appended.
func (s *adminServer) run(args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	args = append(args, "--url", s.url, "--token", testToken)
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// ok runs and fails the test on a non-zero exit.
func (s *adminServer) ok(args ...string) string {
	s.t.Helper()
	code, out, errOut := s.run(args...)
	if code != 0 {
		s.t.Fatalf("switchyard %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// cell returns the text under column header in the table row whose first
// cell is rowKey, relying on the columns being aligned.
func cell(t *testing.T, out, header, rowKey string) string {
	t.Helper()
	lines := strings.Split(out, "\n")
	head := -1
	for i, l := range lines {
		// The header row is the first all-capitals line naming header.
		if strings.Contains(l, header) && strings.ToUpper(l) == l {
			head = i
			break
		}
	}
	if head < 0 {
		t.Fatalf("no header %q in:\n%s", header, out)
	}
	// Columns align by rune, not byte ("…" is three bytes).
	col := len([]rune(lines[head][:strings.Index(lines[head], header)]))
	for _, l := range lines[head+1:] {
		if strings.HasPrefix(l, rowKey+" ") {
			r := []rune(l)
			if len(r) <= col {
				return ""
			}
			rest := string(r[col:])
			if i := strings.Index(rest, "  "); i >= 0 {
				rest = rest[:i]
			}
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no row %q in:\n%s", rowKey, out)
	return ""
}

func TestAdminFlagsDefaults(t *testing.T) {
	t.Setenv(envAdminURL, "http://gw.example:9000")
	t.Setenv(envAdminToken, "from-env")
	env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	fs := newFlags("x", env)
	af := addAdminFlags(fs)
	if _, err := parseArgs(fs, nil); err != nil {
		t.Fatal(err)
	}
	if af.url != "http://gw.example:9000" || af.token != "from-env" || af.json {
		t.Errorf("defaults = %+v", af)
	}
	t.Setenv(envAdminURL, "")
	af = addAdminFlags(newFlags("y", env))
	if af.url != defaultURL {
		t.Errorf("url without env = %q; want %q", af.url, defaultURL)
	}
}

func TestParseArgsInterspersed(t *testing.T) {
	cases := []struct {
		args      []string
		wantPos   []string
		wantGrace string
	}{
		{[]string{"key_1", "--grace", "1h"}, []string{"key_1"}, "1h"},
		{[]string{"--grace", "2h", "key_1"}, []string{"key_1"}, "2h"},
		{[]string{"a", "b"}, []string{"a", "b"}, ""},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			fs := newFlags("t", &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}})
			grace := fs.String("grace", "", "")
			pos, err := parseArgs(fs, c.args)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(pos, ",") != strings.Join(c.wantPos, ",") || *grace != c.wantGrace {
				t.Errorf("pos %v grace %q; want %v %q", pos, *grace, c.wantPos, c.wantGrace)
			}
		})
	}
}

func TestAdminCommandUsageErrors(t *testing.T) {
	s := startAdmin(t, nil)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no verb", []string{"keys"}, 2, "needs a subcommand"},
		{"unknown verb", []string{"keys", "burn"}, 2, `unknown subcommand "burn"`},
		{"missing name", []string{"keys", "create", "--url", s.url, "--token", "x"}, 2, "--name is required"},
		{"missing id", []string{"keys", "rotate", "--url", s.url, "--token", "x"}, 2, "want KEY"},
		{"bad time", []string{"usage", "--from", "last tuesday", "--token", "x"}, 2, "--from"},
		{"no token", []string{"keys", "list", "--url", s.url}, 1, "SWITCHYARD_ADMIN_TOKEN"},
		{"wrong token", []string{"keys", "list", "--url", s.url, "--token", "nope"}, 1, "not valid"},
		{"unreachable", []string{"status", "--url", "http://127.0.0.1:1", "--token", "x"}, 1, "cannot reach"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Main(context.Background(), c.args, &out, &errOut)
			if code != c.code || !strings.Contains(errOut.String(), c.want) {
				t.Errorf("exit %d stderr %q; want exit %d mentioning %q", code, errOut.String(), c.code, c.want)
			}
		})
	}
}

func TestFormatters(t *testing.T) {
	cases := []struct{ got, want string }{
		{usd(1_234_567), "$1.234567"},
		{usd(5), "$0.000005"},
		{usd(-2_000_000), "-$2.000000"},
		{stamp(time.Time{}), "-"},
		{stamp(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)), "2030-01-02 03:04Z"},
		{strings.Join(splitList(" a, ,b ,"), "|"), "a|b"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q; want %q", c.got, c.want)
		}
	}
}
