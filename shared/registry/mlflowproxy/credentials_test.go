package mlflowproxy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

const secretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow"

// TestUpstreamCredentials checks what reaches MLflow's Authorization header through the proxy in
// each mode (package upstream sets it; the proxy must neither add nor keep another).
func TestUpstreamCredentials(t *testing.T) {
	const clientAuth = "Bearer hk_live_abcdefghijklmnopqrstuvwxyz0123456789ABCD"
	for _, tc := range []struct {
		mode, secret, want string
	}{
		{"none", "", ""},
		{"basic", `{"username":"svc","password":"s3cret"}`, "Basic c3ZjOnMzY3JldA=="},
		{"bearer", `{"token":"tok-123"}`, "Bearer tok-123"},
		{"forward", "", clientAuth},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			up := newRecorder(t, nil)
			env := map[string]string{"MLFLOW_UPSTREAM_AUTH": tc.mode}
			if tc.secret != "" {
				env["MLFLOW_UPSTREAM_SECRET_ARN"] = secretARN
			}
			cfg := testConfig(t, up.URL, env)
			creds, err := upstream.LoadCredentials(context.Background(), cfg.Config, &fakeSecrets{id: secretARN, value: tc.secret})
			if err != nil {
				t.Fatal(err)
			}
			// Wired as functions/mlflowproxy does.
			h := creds.Caller(mlflowproxy.New(cfg, creds, &owners{}, nil, quietLog()))
			hdr := http.Header{"Authorization": {clientAuth}, "X-Api-Key": {"hk_live_other"}}
			if code, _, body := do(t, h, "GET", "/api/mlflow/api/2.0/mlflow/experiments/get", nil, writer, hdr); code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			got := up.last(t).Header
			if v := got.Values("Authorization"); strings.Join(v, ",") != tc.want {
				t.Errorf("Authorization upstream %q, want %q", v, tc.want)
			}
			if got.Get("X-Api-Key") != "" {
				t.Error("X-API-Key reached MLflow")
			}
		})
	}
}
