package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/servers"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
)

// TestUpstreamBasicAuth runs the stack with mlflowUpstreamAuth=basic against an MLflow that
// requires credentials (MLflow's own basic-auth app), the secret holding its admin's: every
// function that calls MLflow — the proxy, register and health — gets in, and what MLflow sees is
// the secret's credentials, never a caller's key.
func TestUpstreamBasicAuth(t *testing.T) {
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	admin := servers.BasicAuth{Username: "hokusai-gateway", Password: hex.EncodeToString(pw)}
	secret, _ := json.Marshal(map[string]string{"username": admin.Username, "password": admin.Password})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(admin.Username+":"+admin.Password))

	tmpl := synthTemplate(t, "local", map[string]string{"mlflowUpstreamAuth": "basic"})
	up, out := startStack(t, tmpl, harness.Options{MLflowAdmin: &admin, UpstreamSecret: string(secret)})
	defer func() {
		if strings.Contains(out.String(), admin.Password) {
			t.Error("the upstream password was logged")
		}
	}()

	// What reached MLflow, through the fault proxy in front of it.
	var mu sync.Mutex
	seen := map[string]int{}
	up.MLflowFaults.Observe(func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen[r.Header.Get("Authorization")]++
	})
	defer up.MLflowFaults.Observe(nil)

	do := func(t *testing.T, method, url, auth, body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}

	// Without this, everything below would prove nothing.
	t.Run("MLflow refuses a call without credentials", func(t *testing.T) {
		for _, base := range []string{up.MLflowURL, up.MLflowUpstream} {
			if code, body := do(t, "GET", base+"/api/2.0/mlflow/registered-models/search?max_results=1", "", ""); code != http.StatusUnauthorized {
				t.Errorf("%s without credentials: %d %s", base, code, body)
			}
		}
		if code, _ := do(t, "GET", up.MLflowURL+"/api/2.0/mlflow/registered-models/search?max_results=1", basic, ""); code != 200 {
			t.Errorf("with the admin's credentials: %d", code)
		}
	})

	mu.Lock()
	clear(seen) // the refused calls above were ours
	mu.Unlock()

	t.Run("/health/mlflow answers 200", func(t *testing.T) {
		code, body := do(t, "GET", up.APIURL+"/health/mlflow", "", "")
		if code != 200 || !strings.Contains(string(body), `"status":"ok"`) {
			t.Errorf("%d %s", code, body)
		}
	})

	key, err := up.MintAdminKey(t.Context(), "e2e-upstream-admin", "upstream@e2e.test")
	if err != nil {
		t.Fatal(err)
	}
	var logged mlflowtest.Logged
	t.Run("the stock client works through the proxy", func(t *testing.T) {
		logged = mlflowtest.LogModel(t, up.APIURL+"/api/mlflow", "MLFLOW_TRACKING_TOKEN="+key)
	})
	if logged.RunID == "" {
		t.Fatal("no run to register")
	}

	t.Run("a registration answers 201", func(t *testing.T) {
		code, body := do(t, "POST", up.APIURL+"/api/models/register", "Bearer "+key, registerBody(uniqueToken("upstream"), logged.RunID, nil))
		if code != http.StatusCreated {
			t.Errorf("%d %s", code, body)
		}
	})

	mu.Lock()
	defer mu.Unlock()
	if seen[basic] == 0 {
		t.Errorf("MLflow never saw the secret's credentials: %v", keysOf(seen))
	}
	for auth, n := range seen {
		if auth != basic {
			t.Errorf("%d calls reached MLflow with Authorization %.12q…, not the secret's", n, auth)
		}
	}
}

func keysOf(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k[:min(len(k), 10)]+"…")
	}
	return out
}
