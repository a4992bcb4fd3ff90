package mlflowproxy_test

import (
	"net/http"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// postReadEndpoints are SPEC section 4's reads through POST.
var postReadEndpoints = []string{
	"runs/search", "experiments/search", "registered-models/search", "registered-models/get-latest-versions",
	"model-versions/search", "logged-models/search", "traces/search",
}

func TestAccessPOSTReadsInEveryAPIAndMount(t *testing.T) {
	rt := router(t, "http://m", false)
	for _, endpoint := range postReadEndpoints {
		for _, path := range []string{
			"/api/mlflow/api/2.0/mlflow/" + endpoint,
			"/api/mlflow/api/3.0/mlflow/" + endpoint,
			"/mlflow/ajax-api/2.0/mlflow/" + endpoint,
			"/mlflow/ajax-api/3.0/mlflow/" + endpoint,
			"/api/2.0/mlflow/" + endpoint,
			"/api/3.0/mlflow/" + endpoint,
		} {
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
		// Near misses of the POST reads: matched whole, never by prefix or substring.
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/search-extra", principal.Write},
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/searchx", principal.Write},
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/search/", principal.Write},
		{"POST", "/api/mlflow/api/2.0/mlflow/runs/search/delete", principal.Write},
		{"POST", "/api/mlflow/api/2.0/mlflow/x/runs/search", principal.Write},
		{"POST", "/api/mlflow/api/2.0/mlflow/Runs/Search", principal.Write},
		{"POST", "/api/mlflow/api/2.0/mlflow/registered-models/get-latest-versions-and-delete", principal.Write},
		{"POST", "/api/2.0/mlflow-artifacts/runs/search", principal.Write}, // not the tracking API
		{"POST", "/api/mlflow/version", principal.Write},
		// Methods other than GET and HEAD write, whatever the endpoint.
		{"OPTIONS", "/api/mlflow/api/2.0/mlflow/experiments/get", principal.Write},
		{"TRACE", "/api/mlflow/api/2.0/mlflow/experiments/get", principal.Write},
		{"get", "/api/mlflow/api/2.0/mlflow/experiments/get", principal.Write},
		{"PUT", "/api/mlflow/api/2.0/mlflow/runs/search", principal.Write},
		{"", "/api/mlflow/api/2.0/mlflow/runs/search", principal.Write},
	} {
		route, err := rt.Route(tc.path, "")
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got := route.Access(tc.method); got != tc.want {
			t.Errorf("%s %s needs %s, want %s", tc.method, tc.path, got, tc.want)
		}
	}
}
