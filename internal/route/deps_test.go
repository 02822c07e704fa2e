package route

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeps keeps the router a library: standard library plus the llm and
// provider seams, nothing that serves HTTP or reads config files.
func TestDeps(t *testing.T) {
	allowed := map[string]bool{
		"github.com/switchyard/switchyard/internal/llm":      true,
		"github.com/switchyard/switchyard/internal/provider": true,
	}
	banned := map[string]string{
		"net/http/httptest": "no HTTP servers in the router",
		"gopkg.in/yaml.v3":  "config parsing belongs to internal/config",
		"os":                "the router reads no files",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if why, bad := banned[path]; bad {
				t.Errorf("%s imports %s: %s", f, path, why)
			}
			if strings.Contains(path, ".") && !allowed[path] {
				t.Errorf("%s imports %s; the router may import only internal/llm and internal/provider outside the standard library", f, path)
			}
		}
	}
}
