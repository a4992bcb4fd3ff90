package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/servers"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// BenchmarkPermissionsSideBySide is issue 14's cost through whole stacks: the same small MLflow
// call (experiments/get of an experiment the caller created, which needs READ on it) made four
// ways in one run: through the gateway with per-resource permissions on (the package's stack),
// through a second stack identical but for the proxy's PERMISSIONS_OFF, through MLflow's own
// basic-auth app as an ordinary user of it, and straight to MLflow. Each iteration makes one
// call of each, in an order that rotates, so machine noise falls on all four alike. It reports
// the median time per call of each, their ratios to direct and on/off, and the samples behind
// each; the in-process cost of a cached check, which this cannot resolve from the noise of whole
// stacks, is BenchmarkPermissionCheck's and BenchmarkCachedHit's.
func BenchmarkPermissionsSideBySide(b *testing.B) {
	ctx := context.Background()
	offStack := startPermissionsOffStack(b)
	basicAuth, user := startBasicAuthMLflow(b)

	onExp := gatewayExperiment(b, h, benchKey(b))
	offAdmin, err := offStack.MintAdminKey(ctx, "bench-admin", "bench@e2e.test")
	if err != nil {
		b.Fatal(err)
	}
	offExp := gatewayExperiment(b, offStack, offAdmin)
	basicExp := mustExperimentID(b, request(b, "POST", basicAuth.URL+"/api/2.0/mlflow/experiments/create",
		basicAuthHeader(user), `{"name":"`+uniqueToken("bench-perm-basic")+`"}`))

	get := func(base, id string, auth map[string]string) func() (*http.Response, error) {
		return func() (*http.Response, error) {
			req, _ := http.NewRequest("GET", base+"/api/2.0/mlflow/experiments/get?experiment_id="+id, nil)
			for k, v := range auth {
				req.Header.Set(k, v)
			}
			return http.DefaultClient.Do(req)
		}
	}
	ways := []struct {
		name  string
		call  func() (*http.Response, error)
		times []time.Duration
	}{
		{name: "on", call: get(h.APIURL+"/api/mlflow", onExp.id, bearer(onExp.key))},
		{name: "off", call: get(offStack.APIURL+"/api/mlflow", offExp.id, bearer(offExp.key))},
		{name: "basic-auth", call: get(basicAuth.URL, basicExp, basicAuthHeader(user))},
		{name: "direct", call: get(h.MLflowURL, onExp.id, nil)},
	}
	for i := range ways {
		timedCalls(b, 5, ways[i].call) // warm the functions, the authorizer's and the permission caches
	}
	n := 0
	for b.Loop() {
		for k := range ways {
			w := &ways[(n+k)%len(ways)]
			w.times = append(w.times, timedCalls(b, 1, w.call))
		}
		n++
	}
	// Medians: a neighbour's burst on a shared machine lands on a few samples of one way, and
	// would move a mean by more than the check costs.
	med := make([]time.Duration, len(ways))
	for i, w := range ways {
		slices.Sort(w.times)
		med[i] = w.times[len(w.times)/2]
		b.ReportMetric(float64(med[i].Nanoseconds())/1e3, w.name+"-median-µs")
	}
	on, off, basic, direct := float64(med[0]), float64(med[1]), float64(med[2]), float64(med[3])
	b.ReportMetric(on/direct, "on/direct")
	b.ReportMetric(off/direct, "off/direct")
	b.ReportMetric(basic/direct, "basic-auth/direct")
	b.ReportMetric(on/off, "on/off")
	b.ReportMetric(float64(n), "samples-each")
}

// startPermissionsOffStack starts a second local stack whose proxy runs with PERMISSIONS_OFF.
func startPermissionsOffStack(b *testing.B) *harness.Harness {
	tmpl := synthTemplate(b, "local", nil)
	withFunctionEnv(b, tmpl, "mlflowproxy", map[string]string{"PERMISSIONS_OFF": "true"})
	st, _ := startStack(b, tmpl, harness.Options{})
	return st
}

// startBasicAuthMLflow starts MLflow with its basic-auth app, started the way the harness starts
// MLflow, and creates an ordinary user in it: the admin skips the app's permission checks, a user
// gets them on every call, as the gateway's callers do.
func startBasicAuthMLflow(b *testing.B) (*servers.MLflow, servers.BasicAuth) {
	admin, user := servers.BasicAuth{Username: "bench-admin", Password: secret()}, servers.BasicAuth{Username: "bench-user", Password: secret()}
	out := &testenv.Buffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := servers.StartMLflow(ctx, servers.MLflowOptions{VenvDir: venv, StateDir: b.TempDir(), Admin: &admin, LogOutput: out})
	if err != nil {
		b.Fatalf("start MLflow's basic-auth app: %v\n%s", err, tail(out.String(), 3000))
	}
	b.Cleanup(func() {
		if err := m.Stop(); err != nil {
			b.Error(err)
		}
	})
	body, _ := json.Marshal(map[string]string{"username": user.Username, "password": user.Password})
	request(b, "POST", m.URL+"/api/2.0/mlflow/users/create", basicAuthHeader(admin), string(body))
	return m, user
}

type benchExperiment struct{ id, key string }

// gatewayExperiment makes an ordinary user's key on st and has the user create an experiment
// through the gateway, which makes them its owner.
func gatewayExperiment(b *testing.B, st *harness.Harness, admin string) benchExperiment {
	user := uniqueToken("bench-perm-user")
	body, _ := json.Marshal(map[string]any{"user_id": user, "email": user + "@e2e.test", "scopes": []string{"mlflow:write"}})
	var created struct{ Key string }
	if err := json.Unmarshal(request(b, "POST", st.APIURL+"/api/keys", bearer(admin), string(body)), &created); err != nil || created.Key == "" {
		b.Fatalf("create key: %v", err)
	}
	id := mustExperimentID(b, request(b, "POST", st.APIURL+"/api/mlflow/api/2.0/mlflow/experiments/create",
		bearer(created.Key), `{"name":"`+uniqueToken("bench-perm")+`"}`))
	return benchExperiment{id: id, key: created.Key}
}

// request makes a JSON call and returns its body, failing the benchmark unless it succeeds.
func request(b *testing.B, method, url string, headers map[string]string, body string) []byte {
	b.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		b.Fatalf("%s %s: %d %s", method, url, res.StatusCode, out)
	}
	return out
}

func mustExperimentID(b *testing.B, body []byte) string {
	b.Helper()
	var out struct {
		ExperimentID string `json:"experiment_id"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.ExperimentID == "" {
		b.Fatalf("no experiment id in %s: %v", body, err)
	}
	return out.ExperimentID
}

func basicAuthHeader(u servers.BasicAuth) map[string]string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(u.Username, u.Password)
	return map[string]string{"Authorization": req.Header.Get("Authorization")}
}

func secret() string {
	p := make([]byte, 16)
	_, _ = rand.Read(p)
	return hex.EncodeToString(p)
}
