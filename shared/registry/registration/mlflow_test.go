package registration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules/rulestest"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
)

// countingTransport counts requests by "METHOD /path", as the e2e harness's fault proxy does.
type countingTransport struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.calls[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

// The whole registration against a real MLflow 3 and DynamoDB (moto).
func TestRegistrationAgainstMLflow(t *testing.T) {
	base := realMLflow(t)
	logged := mlflowtest.LogModel(t, base)
	counter := &countingTransport{calls: map[string]int{}}
	u, _ := url.Parse(base)
	e := newEnv(t, base)
	e.h = registration.New(registration.Deps{
		MLflow: mlflow.New(u, 8*time.Second, &http.Client{Transport: counter}), Store: e.store, MLflowTimeout: 8 * time.Second,
	})
	token := fmt.Sprintf("T%d", time.Now().UnixNano()%1e9)
	body := rulestest.JSONOf(map[string]any{
		"token_id": token, "mlflow_run_id": logged.RunID, "metric_name": "reply_rate", "baseline_value": 0.13, "current_value": 0.15,
		"eval_spec": "specs/eval.yaml", "primary_metric": "reply_rate", "tags": map[string]string{"team": "growth"},
	}, nil)

	v := registered(t, e.register(t, body, writer, "real-1"))
	name := "hokusai-" + strings.ToUpper(token)

	t.Run("six MLflow calls, each once", func(t *testing.T) {
		assertCalls(t, counter.take(), map[string]int{
			"GET /api/2.0/mlflow/runs/get":                  1,
			"POST /api/2.0/mlflow/logged-models/search":     1,
			"GET /api/2.0/mlflow/registered-models/search":  1,
			"POST /api/2.0/mlflow/registered-models/create": 1,
			"POST /api/2.0/mlflow/runs/log-batch":           1,
			"POST /api/2.0/mlflow/model-versions/create":    1,
		})
	})

	t.Run("the version is what mlflow.register_model makes of the run, with every tag", func(t *testing.T) {
		ours := mlflowtest.GetVersion(t, base, name, v.Version)
		stock := mlflowtest.RegisterModel(t, base, logged.RunID, name+"-stock")
		if ours.Source != stock.Source || ours.Source != "models:/"+logged.ModelID || ours.RunID != stock.RunID || !equalPtr(ours.ModelID, stock.ModelID) {
			t.Errorf("ours %+v, register_model's %+v", ours, stock)
		}
		want := map[string]string{
			"hokusai_token_id": strings.ToUpper(token), "benchmark_metric": "reply_rate", "benchmark_value": "0.13",
			"hokusai_status": "registered", "hokusai_proposal_identifier": strings.ToUpper(token),
			"hokusai_registration_id": v.RegistrationID, "mlflow_run_id": logged.RunID, "user_id": writer.UserID,
			"hokusai.eval_spec": "specs/eval.yaml", "hokusai.primary_metric": "reply_rate", "team": "growth",
		}
		for k, val := range want {
			if ours.Tags[k] != val {
				t.Errorf("tag %s = %q, want %q", k, ours.Tags[k], val)
			}
		}
		if len(ours.Tags) != len(want) {
			t.Errorf("tags %v", ours.Tags)
		}
		if got := mlflowtest.Predict(t, base, name, v.Version); got != 42 {
			t.Errorf("models:/%s/%s predicted %v", name, v.Version, got)
		}
	})

	t.Run("the logged model links the version, the run has the metadata", func(t *testing.T) {
		var raw struct {
			Model struct {
				Info struct {
					Tags []mlflow.Tag `json:"tags"`
				} `json:"info"`
			} `json:"model"`
		}
		getJSON(t, base+"/api/2.0/mlflow/logged-models/"+logged.ModelID, &raw)
		if links := mlflow.TagMap(raw.Model.Info.Tags)["mlflow.modelVersions"]; !strings.Contains(links, name) {
			t.Errorf("mlflow.modelVersions %q", links)
		}
		var run struct {
			Run struct {
				Data struct {
					Tags []mlflow.Tag `json:"tags"`
				} `json:"data"`
			} `json:"run"`
		}
		getJSON(t, base+"/api/2.0/mlflow/runs/get?run_id="+logged.RunID, &run)
		if tags := mlflow.TagMap(run.Run.Data.Tags); tags["hokusai.eval_spec"] != "specs/eval.yaml" || tags["hokusai.primary_metric"] != "reply_rate" {
			t.Errorf("run tags %v", tags)
		}
	})

	t.Run("a repeat with the key calls MLflow not at all", func(t *testing.T) {
		again := registered(t, e.register(t, body, writer, "real-1"))
		if again.RegistrationID != v.RegistrationID || len(counter.take()) != 0 {
			t.Errorf("%+v", again)
		}
	})

	t.Run("a lost record is recovered from MLflow by the registration id tag", func(t *testing.T) {
		fs := &failingStore{Store: e.store}
		fs.n.Store(1)
		h := e.h
		e.h = registration.New(registration.Deps{
			MLflow: mlflow.New(u, 8*time.Second, &http.Client{Transport: counter}), Store: fs, MLflowTimeout: 8 * time.Second,
		})
		if rec := e.register(t, body, writer, "real-2"); rec.Code != 503 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		counter.take()
		back := registered(t, e.register(t, body, writer, "real-2"))
		assertCalls(t, counter.take(), map[string]int{"GET /api/2.0/mlflow/model-versions/search": 1})
		if mv := mlflowtest.GetVersion(t, base, name, back.Version); mv.Tags["hokusai_registration_id"] != back.RegistrationID {
			t.Errorf("version %+v for %+v", mv, back)
		}
		e.h = h
	})

	t.Run("a run MLflow does not have", func(t *testing.T) {
		rec := e.register(t, rulestest.JSONOf(map[string]any{"token_id": token, "mlflow_run_id": "0000000000000000000000000000dead",
			"metric_name": "reply_rate", "baseline_value": 0.1}, nil), writer, "")
		if body := decode(t, rec); rec.Code != 404 || body["error"] != "RUN_NOT_FOUND" {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})

	t.Run("the SDK's flow: register with the stock client, then announce", func(t *testing.T) {
		sdkName := name + "-sdk"
		mv := mlflowtest.RegisterModel(t, base, logged.RunID, sdkName)
		claimAsProxy(t, e.store, writer, sdkName, mv.Version)
		counter.take()
		rec := e.call(t, context.Background(), "POST", "/api/models/tokenized-registration-events", rulestest.JSONOf(map[string]any{
			"model_name": sdkName, "version": mv.Version, "token_id": token, "metric_name": "reply_rate", "baseline_value": 0.1,
			"scorer_ref": "scorers/reply", "model_uri": "models:/" + sdkName + "/" + mv.Version, "tags": map[string]string{"hokusai_token_id": token},
		}, nil), writer, nil)
		modelID := sdkName + "/" + mv.Version + "/" + strings.ToUpper(token)
		var out registration.EventEmitted
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		if rec.Code != 200 || out.ModelID != modelID || !out.EventEmitted || out.Status != "ok" {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		assertCalls(t, counter.take(), map[string]int{
			"GET /api/2.0/mlflow/model-versions/get":      1,
			"POST /api/2.0/mlflow/model-versions/set-tag": 1,
			"POST /api/2.0/mlflow/runs/log-batch":         1,
		})
		if got := mlflowtest.GetVersion(t, base, sdkName, mv.Version); got.Tags["hokusai.scorer_ref"] != "scorers/reply" {
			t.Errorf("version tags %v", got.Tags)
		}
		stored, err := e.store.Get(context.Background(), registration.AnnouncementID(modelID))
		if err != nil {
			t.Fatal(err)
		}
		// The run comes from the version: the event ids are those of the run's registration.
		if stored.RunID != logged.RunID || stored.Events[0].EventID != events.EventID(events.ModelRegistered, modelID, logged.RunID, mv.Version) {
			t.Errorf("%+v", stored)
		}
	})
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func equalPtr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
