package awsenv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/awsenv"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, region, endpoint, token string)
	}{
		{"lambda", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "TOK"}, "",
			func(t *testing.T, region, endpoint, token string) {
				if region != "eu-west-1" || endpoint != "" || token != "TOK" {
					t.Errorf("%s %s %s", region, endpoint, token)
				}
			}},
		{"local endpoint and default region", map[string]string{"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_ENDPOINT_URL": "http://127.0.0.1:5001"}, "",
			func(t *testing.T, region, endpoint, _ string) {
				if region != "us-east-1" || endpoint != "http://127.0.0.1:5001" {
					t.Errorf("%s %s", region, endpoint)
				}
			}},
		{"nothing set names every variable", map[string]string{}, "AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY", nil},
		{"bad endpoint", map[string]string{"AWS_REGION": "r", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL": "127.0.0.1:5001"}, "AWS_ENDPOINT_URL", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := awsenv.Config(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want it to name %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ep := ""
			if cfg.BaseEndpoint != nil {
				ep = *cfg.BaseEndpoint
			}
			tc.check(t, cfg.Region, ep, creds.SessionToken)
		})
	}
}
