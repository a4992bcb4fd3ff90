package mlflowcatalog_test

import (
	"slices"
	"strings"
	"testing"

	mc "github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// FuzzLookup feeds the matcher any endpoint (it comes from a client's path): it never panics, a
// found operation is served with the method asked (HEAD as GET) and listed by Methods, and an
// endpoint with an empty segment before its end matches nothing.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"registered-models/alias", "logged-models/m-1/tags/k", "artifacts/a//b", "artifacts/", "",
		"/", "traces/batchGet", "mcp-servers/a/versions/b/tags/c", "{model_id}", "logged-models/{model_id}", "a/../b"} {
		f.Add(s, "GET")
		f.Add(s, "DELETE")
	}
	f.Fuzz(func(t *testing.T, endpoint, method string) {
		for _, svc := range []mc.Service{mc.Tracking, mc.Artifacts, mc.OTLP, mc.Version} {
			for _, v := range []string{"", "2.0", "3.0"} {
				op, ok := mc.Lookup(svc, v, method, endpoint)
				methods := mc.Methods(svc, v, endpoint)
				if !ok {
					continue
				}
				if op.Method != method && !(method == "HEAD" && op.Method == "GET") || !slices.Contains(methods, method) {
					t.Errorf("Lookup(%s %q %q %q) = %s %s; Methods %v", svc, v, method, endpoint, op.Name, op.Method, methods)
				}
				if i := strings.Index(endpoint, "//"); i >= 0 && !strings.HasPrefix(op.Endpoint, "artifacts/") && !strings.Contains(op.Endpoint, ":path}") {
					t.Errorf("%q matched %s", endpoint, op.Endpoint)
				}
			}
		}
	})
}
