package contract_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/infra/contract"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// Every function under functions/ is in the contract.
func TestEveryFunction(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(testenv.Root(t), "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs, listed []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" { // what the mains share, not a function
			dirs = append(dirs, e.Name())
		}
	}
	for name := range contract.Functions {
		listed = append(listed, name)
	}
	slices.Sort(listed)
	if !slices.Equal(dirs, listed) {
		t.Errorf("functions/ has %v, the contract %v", dirs, listed)
	}
}

func TestSharedTypes(t *testing.T) {
	if err := contract.SharedTypes(); err != nil {
		t.Error(err)
	}
	// The variables shared today, so a rename that silently splits one is noticed.
	for v, fns := range map[string][]string{
		"MLFLOW_URL":            {"health", "mlflowproxy", "register"},
		"MLFLOW_UPSTREAM_AUTH":  {"health", "mlflowproxy", "register"},
		"AUTH_CACHE_TTL":        {"authorizer", "keys"},
		"ALLOWED_KEY_PREFIXES":  {"authorizer", "keys"},
		"ADMIN_EMAILS":          {"keys", "mlflowproxy", "register"},
		"REGISTRATIONS_TABLE":   {"mlflowproxy", "outbox", "register"},
		"PERMISSIONS_DEFAULT":   {"mlflowproxy", "register"},
		"PERMISSIONS_CACHE_TTL": {"mlflowproxy", "register"},
		"SESSIONS_TABLE":        {"authorizer", "uisession"},
		"SESSION_SECRET_ARN":    {"authorizer", "uisession"},
	} {
		for _, fn := range fns {
			if !slices.Contains(contract.Functions[fn].Vars, v) {
				t.Errorf("%s does not read %s", fn, v)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	good := map[string]string{"MLFLOW_URL": "http://127.0.0.1:5000", "AWS_REGION": "us-east-1"}
	if err := contract.Check("health", good); err != nil {
		t.Errorf("good environment: %v", err)
	}
	for name, tc := range map[string]struct {
		fn   string
		env  map[string]string
		want []string
	}{
		"unread":        {"health", map[string]string{"MLFLOW_URL": "http://m", "HOKUSAI_ENV": "dev", "MLFLOW_TIMEOUT": "8s"}, []string{"HOKUSAI_ENV", "MLFLOW_TIMEOUT"}},
		"malformed":     {"health", map[string]string{"MLFLOW_URL": "http://m", "MLFLOW_HEALTH_TIMEOUT": "soon"}, []string{"MLFLOW_HEALTH_TIMEOUT"}},
		"missing":       {"register", map[string]string{"MLFLOW_URL": "http://m"}, []string{"REGISTRATIONS_TABLE"}},
		"no such":       {"nope", nil, []string{"nope"}},
		"secret unread": {"keys", map[string]string{"KEYS_TABLE": "k", "MLFLOW_UPSTREAM_SECRET_ARN": "arn:x"}, []string{"MLFLOW_UPSTREAM_SECRET_ARN"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := contract.Check(tc.fn, tc.env)
			if err == nil {
				t.Fatal("passed")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v does not name %s", err, w)
				}
			}
		})
	}
}
