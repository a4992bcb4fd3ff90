package mlflowproxy_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/mlflowproxy"
)

const secretARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mlflow"

func TestLoadCredentials(t *testing.T) {
	for _, tc := range []struct {
		name, mode, secret, wantErr string
	}{
		{"basic", "basic", `{"username":"svc","password":"s3cret"}`, ""},
		{"bearer", "bearer", `{"token":"tok-123"}`, ""},
		{"basic missing password", "basic", `{"username":"svc"}`, "username"},
		{"bearer missing token", "bearer", `{"username":"svc","password":"p"}`, "token"},
		{"not JSON", "bearer", `tok-123`, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, "http://m", map[string]string{"MLFLOW_UPSTREAM_AUTH": tc.mode, "MLFLOW_UPSTREAM_SECRET_ARN": secretARN})
			sm := &fakeSecrets{id: secretARN, value: tc.secret}
			_, err := mlflowproxy.LoadCredentials(context.Background(), cfg, sm)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "tok-123")) {
				t.Errorf("error quotes the secret: %v", err)
			}
			if sm.calls != 1 {
				t.Errorf("secret read %d times, want once", sm.calls)
			}
		})
	}
}

func TestLoadCredentialsFailures(t *testing.T) {
	cfg := testConfig(t, "http://m", map[string]string{"MLFLOW_UPSTREAM_AUTH": "basic", "MLFLOW_UPSTREAM_SECRET_ARN": secretARN})
	if _, err := mlflowproxy.LoadCredentials(context.Background(), cfg, nil); err == nil {
		t.Error("basic auth without a Secrets Manager client loaded")
	}
	if _, err := mlflowproxy.LoadCredentials(context.Background(), cfg, &fakeSecrets{id: "other"}); err == nil || !strings.Contains(err.Error(), secretARN) {
		t.Errorf("missing secret: %v", err)
	}
	none := testConfig(t, "http://m", nil)
	if _, err := mlflowproxy.LoadCredentials(context.Background(), none, nil); err != nil {
		t.Errorf("none needs no secret: %v", err)
	}
}

// TestUpstreamCredentials checks what reaches MLflow's Authorization header in each mode.
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
			creds, err := mlflowproxy.LoadCredentials(context.Background(), cfg, &fakeSecrets{id: secretARN, value: tc.secret})
			if err != nil {
				t.Fatal(err)
			}
			h := mlflowproxy.New(cfg, creds, quietLog())
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
