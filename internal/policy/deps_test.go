package policy

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps keeps the package pure: the hot path must not grow I/O.
func TestDeps(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if imp == "net/http" || imp == "database/sql" || imp == "os" || strings.Contains(imp, "/internal/store") {
			t.Errorf("policy imports %s; it must stay a pure library", imp)
		}
	}
}
