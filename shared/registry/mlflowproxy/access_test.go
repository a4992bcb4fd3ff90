package mlflowproxy_test

import (
	"net/http"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// postReadEndpoints are SPEC section 4's reads through POST.
// (MLflow 3.17 serves registered-models/search and model-versions/search as GET only: a POST to
// them is answered 405.)
var postReadEndpoints = []string{
	"runs/search", "experiments/search", "registered-models/get-latest-versions", "logged-models/search", "traces/search",
}

func TestAccessPOSTReadsInEveryAPIAndMount(t *testing.T) {
	rt := router(t, "http://m", false)
	for _, endpoint := range postReadEndpoints {
		// In each API version MLflow serves it under.
		var paths []string
		for _, v := range []string{"2.0", "3.0"} {
			if _, ok := mlflowcatalog.Lookup(mlflowcatalog.Tracking, v, http.MethodPost, endpoint); ok {
				paths = append(paths, "/api/mlflow/api/"+v+"/mlflow/"+endpoint, "/mlflow/ajax-api/"+v+"/mlflow/"+endpoint, "/api/"+v+"/mlflow/"+endpoint)
			}
		}
		if len(paths) == 0 {
			t.Errorf("POST %s is no operation of MLflow's", endpoint)
		}
		for _, path := range paths {
			route, err := rt.Route(path, "")
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if got := route.Access(http.MethodPost); got != principal.Read {
				t.Errorf("POST %s needs %s, want read", path, got)
			}
			if got := route.Access(http.MethodPut); got != principal.Write {
				t.Errorf("PUT %s needs %s, want write", path, got)
			}
		}
	}
}

func TestAccess(t *testing.T) {
	rt := router(t, "http://m", true)
	for _, tc := range []struct {
		method, path string
		want         principal.Level
	}{
		{"GET", "/api/mlflow/api/2.0/mlflow/experiments/get", principal.Read},
		{"HEAD", "/api/2.0/mlflow-artifacts/artifacts/a.bin", principal.Read},
		{"GET", "/api/mlflow/version", principal.Read},
		{"GET", "/version", principal.Read},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model.pkl", principal.Read},
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/search", principal.Read},
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/%73earch", principal.Read}, // MLflow decodes it to runs/search
		// Writes.
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/create", principal.Write},
		{"POST", "/api/mlflow/api/2.0/mlflow/experiments/create", principal.Write},
		{"POST", "/api/mlflow/api/2.0/mlflow/registered-models/create", principal.Write},
		{"PATCH", "/api/mlflow/api/2.0/mlflow/registered-models/update", principal.Write},
		{"DELETE", "/api/mlflow/api/2.0/mlflow/registered-models/delete", principal.Write},
		{"PUT", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model.pkl", principal.Write},
		{"DELETE", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/model.pkl", principal.Write},
		{"POST", "/api/2.0/mlflow-artifacts/mpu/create/1/r/artifacts/big.bin", principal.Write},
		{"POST", "/api/mlflow/v1/traces", principal.Write}, // span export stores spans
		{"POST", "/v1/traces", principal.Write},
		{"DELETE", "/api/mlflow/api/2.0/mlflow/webhooks/w1", principal.Admin},
		{"GET", "/api/mlflow/api/2.0/mlflow/webhooks", principal.Admin},
		{"PATCH", "/api/mlflow/api/3.0/mlflow/workspaces/w", principal.Admin},
		{"GET", "/api/mlflow/api/3.0/mlflow/workspaces/w", principal.Read},
		{"POST", "/api/mlflow/api/3.0/mlflow/gateway/endpoints/create", principal.Admin},
		{"GET", "/api/mlflow/api/3.0/mlflow/gateway/endpoints/list", principal.Read},
		{"PUT", "/api/mlflow/api/3.0/mlflow/scorers/online-config", principal.Admin},
		// Near misses of the POST reads, other methods, other versions: no operation at all
		// (matched whole, never by prefix or substring).
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/search-extra", principal.None},
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/searchx", principal.None},
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/search/", principal.None},
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/search/delete", principal.None},
		{"POST", "/api/mlflow/api/2.0/mlflow/x/runs/search", principal.None},
		{"POST", "/api/mlflow/api/2.0/mlflow/Runs/Search", principal.None},
		{"POST", "/api/mlflow/api/3.0/mlflow/runs/search", principal.None},
		{"POST", "/api/mlflow/api/2.0/mlflow/registered-models/get-latest-versions-and-delete", principal.None},
		{"POST", "/api/2.0/mlflow-artifacts/runs/search", principal.None},
		{"POST", "/api/mlflow/version", principal.None},
		{"OPTIONS", "/api/mlflow/api/2.0/mlflow/experiments/get", principal.None},
		{"TRACE", "/api/mlflow/api/2.0/mlflow/experiments/get", principal.None},
		{"get", "/api/mlflow/api/2.0/mlflow/experiments/get", principal.None},
		{"PUT", "/api/mlflow/api/2.0/mlflow/runs/search", principal.None},
		{"", "/api/mlflow/api/2.0/mlflow/runs/search", principal.None},
	} {
		route, err := rt.Route(tc.path, "")
		if tc.want == principal.None {
			// Not an operation: refused before any access is asked.
			if _, oerr := route.Operation(tc.method); err == nil && oerr == nil {
				t.Errorf("%s %s is admitted", tc.method, tc.path)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got := route.Access(tc.method); got != tc.want {
			t.Errorf("%s %s needs %s, want %s", tc.method, tc.path, got, tc.want)
		}
	}
}
