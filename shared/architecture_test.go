// Package shared_test holds the rule of the layout: which folders of shared/ may import which.
package shared_test

import (
	"go/build"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hokusai-protocol/registry-gateway/"

// layers, lowest first. A package may import its own layer and the ones below it, never above:
// platform knows no domain; auth (keys, principals) knows only platform; the registry (MLflow,
// registrations) uses auth; delivery (publishing, outbox, webhooks) relays the registry's records.
// Nothing in shared/ imports functions/ or infra/, in its tests neither; functions and infra may
// use any of it.
var layers = []string{"platform", "auth", "registry", "delivery"}

func layer(pkg string) int {
	for i, l := range layers {
		if pkg == "shared/"+l || strings.HasPrefix(pkg, "shared/"+l+"/") {
			return i
		}
	}
	return -1
}

func TestImportsPointDown(t *testing.T) {
	walkPackages(t, ".", func(pkg string, p *build.Package) {
		if layer(pkg) < 0 {
			t.Errorf("%s is in no layer of shared/ (%s)", pkg, strings.Join(layers, ", "))
			return
		}
		for _, rel := range moduleImports(p) {
			switch {
			case strings.HasPrefix(rel, "functions/"), strings.HasPrefix(rel, "infra/"):
				t.Errorf("%s imports %s: shared/ never imports functions/ or infra/", pkg, rel)
			case strings.HasPrefix(rel, "shared/") && layer(rel) > layer(pkg):
				t.Errorf("%s (%s) imports %s (%s): imports point down the layers %v",
					pkg, layers[layer(pkg)], rel, layers[layer(rel)], layers)
			}
		}
	})
}

// The functions, tests included, use shared/ and never the CDK app or the local harness: what a
// test needs of the harness's servers is in shared/platform/testenv.
func TestFunctionsDoNotImportInfra(t *testing.T) {
	walkPackages(t, "../functions", func(pkg string, p *build.Package) {
		for _, rel := range moduleImports(p) {
			if strings.HasPrefix(rel, "infra/") {
				t.Errorf("%s imports %s: functions/ never imports infra/", pkg, rel)
			}
		}
	})
}

// walkPackages calls fn with each Go package under dir (relative to shared/), named by its path
// from the repository root.
func walkPackages(t *testing.T, dir string, fn func(pkg string, p *build.Package)) {
	t.Helper()
	top := filepath.ToSlash(filepath.Join("shared", dir)) // "shared", "functions"
	found := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == dir {
			return err
		}
		p, err := build.ImportDir(path, build.ImportComment)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		found++
		fn(top+"/"+filepath.ToSlash(rel), p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatalf("no Go packages under %s", top)
	}
}

// moduleImports are p's imports of this module's packages, its tests' included, relative to the
// module root.
func moduleImports(p *build.Package) []string {
	var out []string
	for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
		if rel, ok := strings.CutPrefix(imp, module); ok {
			out = append(out, rel)
		}
	}
	return out
}

// The folders of shared/ are exactly the layers: a new folder is a decision about the layout.
func TestSharedHoldsOnlyTheLayers(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && layer("shared/"+e.Name()) < 0 {
			t.Errorf("shared/%s is not one of the layers %v", e.Name(), layers)
		}
	}
}

// No production code serves through net/http/httptest: it is a test recorder (unbounded, and
// documented for tests), and a binary that links it carries test machinery. Test files and the
// *test helper packages may use it; this checks the non-test files of shared/ and functions/.
func TestNoHTTPTestInProductionCode(t *testing.T) {
	for _, root := range []string{".", "../functions"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			p, err := build.ImportDir(path, build.ImportComment)
			if err != nil {
				if _, ok := err.(*build.NoGoError); ok {
					return nil
				}
				return err
			}
			if strings.HasSuffix(p.Name, "test") {
				return nil // a test helper package (keystoretest, eventpubtest)
			}
			if slices.Contains(p.Imports, "net/http/httptest") {
				t.Errorf("%s imports net/http/httptest outside its tests", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The binaries link what they import transitively, which the per-file check above cannot see:
// no function links net/http/httptest, and the authorizer, which only describes principals, links
// no HTTP adapter (principal knows nothing of HTTP; the request check is package access).
func TestFunctionsLinkNoTestMachinery(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to list the functions' dependencies: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "./functions/...", "./shared/auth/principal")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := map[string][]string{
		"":                      {"net/http/httptest"},
		"functions/authorizer":  {module + "shared/platform/apigw", module + "shared/platform/httpapi"},
		"shared/auth/principal": {module + "shared/platform/apigw", module + "shared/platform/httpapi", "net/http"},
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, _ := strings.CutPrefix(fields[0], module)
		if !strings.HasPrefix(pkg, "functions/") && pkg != "shared/auth/principal" {
			continue
		}
		seen++
		deps := fields[1:]
		for _, bad := range append(forbidden[""], forbidden[pkg]...) {
			if slices.Contains(deps, bad) {
				t.Errorf("%s links %s", pkg, bad)
			}
		}
	}
	if seen < 3 {
		t.Fatalf("go list named %d packages, expected the functions and principal:\n%s", seen, out)
	}
}
