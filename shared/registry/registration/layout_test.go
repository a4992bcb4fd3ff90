package registration_test

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// The registration's parts point one way: the handler (this package) uses them all, and none of
// them uses the handler or a part above it (a part's own test helpers, such as rules/rulestest,
// belong to it).
func TestPartsPointOneWay(t *testing.T) {
	const base = "github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	allowed := map[string][]string{
		"rules":       nil,
		"record":      {"rules"},
		"mlflowops":   {"rules"},
		"idempotency": {"record", "rules"},
	}
	for part, may := range allowed {
		p, err := build.ImportDir(part, 0)
		if err != nil {
			t.Fatalf("%s: %v", part, err)
		}
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			if imp != base && !strings.HasPrefix(imp, base+"/") {
				continue
			}
			if dep := strings.TrimPrefix(strings.TrimPrefix(imp, base), "/"); dep != part && !strings.HasPrefix(dep, part+"/") && !slices.Contains(may, dep) {
				t.Errorf("registration/%s imports %s; it may import only %v of the registration's packages", part, imp, may)
			}
		}
	}
}
