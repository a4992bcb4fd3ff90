package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/infra/local/faultproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// MLflow calls of one registration from a run id under a new name, as the fault proxy in front of
// MLflow counts them: resolve the run's logged model (2), find whether MLflow held the unowned
// name before the registry (1), create the registered model and tag the run (concurrently, 1
// each), create the version with all its tags (1).
var registerCalls = map[string]int{
	"GET /api/2.0/mlflow/runs/get":                  1,
	"POST /api/2.0/mlflow/logged-models/search":     1,
	"GET /api/2.0/mlflow/registered-models/search":  1,
	"POST /api/2.0/mlflow/registered-models/create": 1,
	"POST /api/2.0/mlflow/runs/log-batch":           1,
	"POST /api/2.0/mlflow/model-versions/create":    1,
}

// registrationKeys are a writer (models and MLflow) and a reader.
func registrationKeys(t *testing.T) (writer, reader string) {
	t.Helper()
	admin := adminKey(t)
	writer, _ = createKey(t, admin, "e2e-registrar", "model:write", "mlflow:write")
	reader, _ = createKey(t, admin, "e2e-registry-reader", "model:read", "mlflow:read")
	return writer, reader
}

// logThroughGateway logs a pyfunc model with the stock client through the MLflow proxy.
func logThroughGateway(t *testing.T, key string) mlflowtest.Logged {
	t.Helper()
	return mlflowtest.LogModel(t, h.APIURL+"/api/mlflow", "MLFLOW_TRACKING_TOKEN="+key)
}

func registerBody(token, runID string, extra map[string]any) string {
	m := map[string]any{"token_id": token, "mlflow_run_id": runID, "metric_name": "sales:reply_rate", "baseline_value": 0.1342}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func postRegister(t *testing.T, key, body, idempotencyKey string) (*http.Response, []byte) {
	t.Helper()
	hdr := map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"}
	if idempotencyKey != "" {
		hdr["Idempotency-Key"] = idempotencyKey
	}
	return call(t, "POST", "/api/models/register", strings.NewReader(body), hdr)
}

func uniqueToken(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e12)
}

// versionsOf lists a registered model's versions straight from MLflow.
func versionsOf(t *testing.T, name string) []string {
	t.Helper()
	q := url.Values{"filter": {"name = '" + name + "'"}, "max_results": {"1000"}}
	res, err := http.Get(h.MLflowURL + "/api/2.0/mlflow/model-versions/search?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		ModelVersions []struct {
			Version string `json:"version"`
		} `json:"model_versions"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, mv := range out.ModelVersions {
		vs = append(vs, mv.Version)
	}
	return vs
}

// registrationsTable is the table the stack declares with the outbox index.
func registrationsTable(t *testing.T) string {
	t.Helper()
	for _, tb := range h.Model.Tables {
		for _, gsi := range tb.GlobalSecondaryIndexes {
			if gsi.IndexName == regstore.OutboxIndex {
				return tb.Name
			}
		}
	}
	t.Fatal("no registrations table in the template")
	return ""
}

// registrationItems counts the table's registration records.
func registrationItems(t *testing.T) int {
	t.Helper()
	out, err := dynamodb.NewFromConfig(h.AWSConfig()).Scan(context.Background(), &dynamodb.ScanInput{
		TableName:                 aws.String(registrationsTable(t)),
		FilterExpression:          aws.String("begins_with(pk, :reg)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":reg": &types.AttributeValueMemberS{Value: regstore.RegistrationPrefix}},
		Select:                    types.SelectCount,
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

func assertOperations(t *testing.T, want map[string]int) {
	t.Helper()
	got := h.MLflowFaults.Operations()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d calls, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected MLflow call %s (%d)", k, n)
		}
	}
}

func TestRegisterModel(t *testing.T) {
	writer, reader := registrationKeys(t)
	logged := logThroughGateway(t, writer)
	token := uniqueToken("e2e")
	name := "hokusai-" + strings.ToUpper(token)
	body := registerBody(token, logged.RunID, map[string]any{
		"current_value": 0.15, "eval_spec": "specs/eval.yaml", "scorer_ref": "scorers/reply@2",
		"primary_metric": "reply_rate", "benchmark_spec_id": "bench-7", "tags": map[string]string{"team": "growth"},
	})

	h.MLflowFaults.ResetCounts()
	res, b := postRegister(t, writer, body, "e2e-"+token)
	if res.StatusCode != 201 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	var v record.Registered
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}

	t.Run("the specified answer", func(t *testing.T) {
		upper := strings.ToUpper(token)
		if v.ModelID != name+"/1/"+upper || v.ModelName != name || v.Version != "1" || v.TokenID != upper ||
			v.ProposalIdentifier != upper || v.ModelURI != "models:/"+name+"/1" || v.Status != "registered" || v.RegisteredAt == "" {
			t.Errorf("%s", b)
		}
		for _, dt := range events.DetailTypes {
			ev := v.Events[dt]
			if (ev.Status != "published" && ev.Status != "pending") || ev.EventID != events.EventID(dt, v.ModelID, logged.RunID, "1") {
				t.Errorf("%s: %+v", dt, ev)
			}
		}
		created := v.Events[events.ModelVersionCreated]
		if (created.Status != "published" && created.Status != "pending") || len(v.Events) != 3 ||
			created.EventID != events.RegistryEventID(events.ModelVersionCreated, v.RegistrationID, name, "1", "") {
			t.Errorf("%s: %+v", events.ModelVersionCreated, v.Events)
		}
		if res.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
	})

	t.Run("exactly six MLflow calls", func(t *testing.T) {
		assertOperations(t, registerCalls)
	})

	t.Run("the version is mlflow.register_model's, with every tag of SPEC 5.1", func(t *testing.T) {
		env := []string{"MLFLOW_TRACKING_TOKEN=" + writer}
		tracking := h.APIURL + "/api/mlflow"
		ours := mlflowtest.GetVersion(t, tracking, name, "1", env...)
		stock := mlflowtest.RegisterModel(t, tracking, logged.RunID, name+"-stock", env...)
		if ours.Source != stock.Source || ours.RunID != stock.RunID || fmt.Sprint(ours.ModelID) != fmt.Sprint(stock.ModelID) ||
			ours.Source != "models:/"+logged.ModelID {
			t.Errorf("ours %+v\nregister_model's %+v", ours, stock)
		}
		for _, tag := range []string{"hokusai_token_id", "benchmark_metric", "benchmark_value", "hokusai_status",
			"hokusai_proposal_identifier", "hokusai_registration_id", "mlflow_run_id", "user_id", "hokusai.eval_spec",
			"hokusai.scorer_ref", "hokusai.primary_metric", "hokusai.benchmark_spec_id", "team"} {
			if ours.Tags[tag] == "" {
				t.Errorf("tag %s missing: %v", tag, ours.Tags)
			}
		}
		if ours.Tags["hokusai_registration_id"] != v.RegistrationID || ours.Tags["user_id"] != "e2e-registrar" ||
			ours.Tags["hokusai_status"] != "registered" || ours.Tags["benchmark_value"] != "0.1342" {
			t.Errorf("tags %v", ours.Tags)
		}
		if got := mlflowtest.Predict(t, tracking, name, "1", env...); got != 42 {
			t.Errorf("models:/%s/1 predicted %v", name, got)
		}
	})

	t.Run("a repeat is the first answer and creates nothing", func(t *testing.T) {
		h.MLflowFaults.ResetCounts()
		res, again := postRegister(t, writer, body, "e2e-"+token)
		if res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "true" || !strings.Contains(string(again), v.RegistrationID) {
			t.Errorf("%d %v %s", res.StatusCode, res.Header, again)
		}
		assertOperations(t, map[string]int{})
		if vs := versionsOf(t, name); len(vs) != 1 {
			t.Errorf("versions %v", vs)
		}
	})

	t.Run("GET shows it to its owner only", func(t *testing.T) {
		res, got := call(t, "GET", "/api/registrations/"+v.RegistrationID, nil, bearer(writer))
		if res.StatusCode != 200 || !strings.Contains(string(got), v.ModelID) {
			t.Errorf("%d %s", res.StatusCode, got)
		}
		res, got = call(t, "GET", "/api/registrations/"+v.RegistrationID, nil, bearer(reader))
		if res.StatusCode != 404 || jsonBody(t, got)["error"] != "REGISTRATION_NOT_FOUND" {
			t.Errorf("another user: %d %s", res.StatusCode, got)
		}
	})

	t.Run("write scope is enforced", func(t *testing.T) {
		h.MLflowFaults.ResetCounts()
		res, got := postRegister(t, reader, body, "")
		out := jsonBody(t, got)
		if res.StatusCode != 403 || out["error"] != "FORBIDDEN" || out["required_scope"] != "write" {
			t.Errorf("%d %s", res.StatusCode, got)
		}
		if n := h.MLflowFaults.Counts()["mlflow"]; n != 0 {
			t.Errorf("%d MLflow calls", n)
		}
	})
}

// The SDK registers through the MLflow proxy with the stock client, then posts the event.
func TestTokenizedRegistrationEvent(t *testing.T) {
	writer, reader := registrationKeys(t)
	logged := logThroughGateway(t, writer)
	token := uniqueToken("sdk")
	name := "hokusai-" + strings.ToUpper(token)
	tracking := h.APIURL + "/api/mlflow"
	mv := mlflowtest.RegisterModel(t, tracking, logged.RunID, name, "MLFLOW_TRACKING_TOKEN="+writer)
	// build_registration_event_payload's body, with one member this API does not know.
	payload, _ := json.Marshal(map[string]any{
		"model_name": name, "version": mv.Version, "token_id": token, "proposal_identifier": strings.ToUpper(token),
		"metric_name": "reply_rate", "baseline_value": 0.1342, "mlflow_run_id": logged.RunID,
		"model_uri": "models:/" + name + "/" + mv.Version, "tags": map[string]string{"hokusai_token_id": strings.ToUpper(token)},
		"eval_spec": "specs/eval.yaml", "sdk_version": "9.9",
	})
	post := func(key string) (*http.Response, []byte) {
		return call(t, "POST", "/api/models/tokenized-registration-events", bytes.NewReader(payload),
			map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"})
	}
	want := fmt.Sprintf(`{"status":"ok","model_id":"%s/%s/%s","model_name":"%s","version":"%s","event_emitted":true,"detail":null}`,
		name, mv.Version, strings.ToUpper(token), name, mv.Version)
	for i := range 2 { // the repeat re-publishes the same events
		res, b := post(writer)
		if res.StatusCode != 200 || string(b) != want {
			t.Fatalf("attempt %d: %d %s", i, res.StatusCode, b)
		}
	}
	got := mlflowtest.GetVersion(t, tracking, name, mv.Version, "MLFLOW_TRACKING_TOKEN="+writer)
	if got.Tags["hokusai.eval_spec"] != "specs/eval.yaml" {
		t.Errorf("version tags %v", got.Tags)
	}
	if res, b := post(reader); res.StatusCode != 403 {
		t.Errorf("read key: %d %s", res.StatusCode, b)
	}
	missing := bytes.Replace(payload, []byte(`"version":"`+mv.Version+`"`), []byte(`"version":"999"`), 1)
	res, b := call(t, "POST", "/api/models/tokenized-registration-events", bytes.NewReader(missing), bearer(writer))
	if res.StatusCode != 404 || jsonBody(t, b)["error"] != "MODEL_VERSION_NOT_FOUND" {
		t.Errorf("missing version: %d %s", res.StatusCode, b)
	}
}

func TestRegisterConcurrently(t *testing.T) {
	writer, _ := registrationKeys(t)
	logged := logThroughGateway(t, writer)

	t.Run("20 duplicates with one Idempotency-Key make one version", func(t *testing.T) {
		token := uniqueToken("dup")
		body := registerBody(token, logged.RunID, nil)
		ids := make([]string, 20)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Go(func() {
				// A 409 (in progress) is retried as its Retry-After says, until the answer comes.
				for range 60 {
					res, b := postRegister(t, writer, body, "dup-"+token)
					if res.StatusCode == 201 {
						var v record.Registered
						_ = json.Unmarshal(b, &v)
						ids[i] = v.RegistrationID
						return
					}
					if res.StatusCode != 409 || res.Header.Get("Retry-After") != "1" {
						t.Errorf("%d %s", res.StatusCode, b)
						return
					}
					time.Sleep(time.Second)
				}
				t.Error("no answer after a minute of retries")
			})
		}
		wg.Wait()
		if vs := versionsOf(t, "hokusai-"+strings.ToUpper(token)); len(vs) != 1 {
			t.Errorf("versions %v", vs)
		}
		if uniq := slices.Compact(slices.Sorted(slices.Values(ids))); len(uniq) != 1 || uniq[0] == "" {
			t.Errorf("registration ids %v", ids)
		}
	})

	t.Run("20 distinct registrations make 20 versions", func(t *testing.T) {
		token := uniqueToken("many")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var versions []string
		for i := range 20 {
			wg.Go(func() {
				res, b := postRegister(t, writer, registerBody(token, logged.RunID, map[string]any{"current_value": 0.2 + float64(i)/100}), "")
				if res.StatusCode != 201 {
					t.Errorf("%d %s", res.StatusCode, b)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				versions = append(versions, jsonBody(t, b)["version"].(string))
			})
		}
		wg.Wait()
		if vs := versionsOf(t, "hokusai-"+strings.ToUpper(token)); len(vs) != 20 || len(slices.Compact(slices.Sorted(slices.Values(versions)))) != 20 {
			t.Errorf("versions in MLflow %v, answered %v", vs, versions)
		}
	})
}

func TestRegisterWhenMLflowFails(t *testing.T) {
	writer, _ := registrationKeys(t)
	logged := logThroughGateway(t, writer)
	token := uniqueToken("down")
	defer h.MLflowFaults.Clear("mlflow")

	t.Run("MLflow down: 502, nothing written", func(t *testing.T) {
		before := registrationItems(t)
		h.MLflowFaults.SetFault("mlflow", faultproxy.Fault{Unreachable: true})
		res, b := postRegister(t, writer, registerBody(token, logged.RunID, nil), "")
		h.MLflowFaults.Clear("mlflow")
		out := jsonBody(t, b)
		if res.StatusCode != 502 || out["error"] != "MLFLOW_UNAVAILABLE" || out["detail"] == nil {
			t.Errorf("%d %s", res.StatusCode, b)
		}
		if after := registrationItems(t); after != before {
			t.Errorf("registration records %d → %d", before, after)
		}
		if vs := versionsOf(t, "hokusai-"+strings.ToUpper(token)); len(vs) != 0 {
			t.Errorf("versions %v", vs)
		}
	})

	t.Run("MLflow slow: 504 before the gateway's own timeout", func(t *testing.T) {
		h.MLflowFaults.SetFault("mlflow", faultproxy.Fault{Delay: 12 * time.Second})
		start := time.Now()
		res, b := postRegister(t, writer, registerBody(token, logged.RunID, nil), "slow-"+token)
		h.MLflowFaults.Clear("mlflow")
		if out := jsonBody(t, b); res.StatusCode != 504 || out["error"] != "TIMEOUT" || time.Since(start) > 20*time.Second {
			t.Errorf("%d %s after %s", res.StatusCode, b, time.Since(start))
		}
		// The key was released (nothing was created): the same key now registers.
		if res, b := postRegister(t, writer, registerBody(token, logged.RunID, nil), "slow-"+token); res.StatusCode != 201 {
			t.Errorf("retry: %d %s", res.StatusCode, b)
		}
	})
}

// Latency of registrations through the whole local stack: reported, not asserted.
func TestRegisterLatency(t *testing.T) {
	writer, _ := registrationKeys(t)
	logged := logThroughGateway(t, writer)
	token := uniqueToken("lat")
	const n = 100
	took := make([]time.Duration, 0, n)
	for i := range n {
		body := registerBody(token, logged.RunID, map[string]any{"eval_spec": "specs/eval.yaml"})
		start := time.Now()
		res, b := postRegister(t, writer, body, fmt.Sprintf("lat-%s-%d", token, i))
		took = append(took, time.Since(start))
		if res.StatusCode != 201 {
			t.Fatalf("registration %d: %d %s", i, res.StatusCode, b)
		}
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	pct := func(p float64) time.Duration { return took[int(p*float64(n-1))] }
	t.Logf("%d sequential registrations through the gateway: p50 %s, p95 %s, max %s",
		n, pct(0.50).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), took[n-1].Round(time.Millisecond))
}
