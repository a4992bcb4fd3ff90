package e2e

import (
	"encoding/json"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// browserResult is what testdata/clients/ui_browser.py observed in Chromium.
type browserResult struct {
	OK       bool
	Error    string
	Failures []string
	Pages    []struct {
		User, Name, URL, Screenshot string
	}
	CSPViolations []struct {
		User, URL, Text string
	} `json:"csp_violations"`
	ConsoleErrors []struct {
		User, URL, Text string
	} `json:"console_errors"`
	FailedRequests []struct {
		User, Method, Path string
		Status             int
	} `json:"failed_requests"`
}

// Issue 15, item 4: MLflow's UI through the gateway in a real browser (Debian's headless Chromium,
// driven by Playwright). On a stack where nobody reads what is not theirs (PERMISSIONS_DEFAULT=
// NO_PERMISSIONS), user A signs in by pasting a key on the sign-in page and opens the experiment
// list, an experiment, a run with its parameters, the registered model with its versions and
// aliases and a model version; A signs in again through a link minted as the CLI does, then
// signs out, and the session is over; user B signs in and neither finds A's experiment in the
// list nor opens it by URL (MLflow's permission error). No page may log a CSP violation. Every
// page is screenshotted into a folder the test logs (testenv.Artifacts).
//
// The experiment and run pages read through MLflow's GraphQL endpoint, which the gateway judges
// per resource (shared/registry/mlflowgraphql).
func TestMLflowUIInABrowser(t *testing.T) {
	chromium := testenv.Chromium(t)
	testenv.Venv(t, "playwright") // the driver, pinned in requirements.txt
	shots := testenv.Artifacts(t)

	st, at, _, keyOf := privateStack(t, "e2e-browser")
	keyA, keyB := keyOf(uniqueToken("e2e-browser-a")), keyOf(uniqueToken("e2e-browser-b"))

	// A's experiment, run with parameters, and model with two versions and two aliases.
	var exp, expB struct {
		ExperimentID string `json:"experiment_id"`
	}
	nameA, nameB, model := uniqueToken("e2e-browser-private-a"), uniqueToken("e2e-browser-b"), uniqueToken("e2e-browser-model")
	at.decode("POST", "/api/2.0/mlflow/experiments/create", keyA, map[string]any{"name": nameA}, &exp)
	at.decode("POST", "/api/2.0/mlflow/experiments/create", keyB, map[string]any{"name": nameB}, &expB)
	var run struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			}
		}
	}
	runName := uniqueToken("e2e-browser-run")
	at.decode("POST", "/api/2.0/mlflow/runs/create", keyA, map[string]any{"experiment_id": exp.ExperimentID, "run_name": runName}, &run)
	params := map[string]string{"learning_rate": "0.0375", "optimizer_name": "adamw-e2e"}
	var batch []map[string]string
	for k, v := range params {
		batch = append(batch, map[string]string{"key": k, "value": v})
	}
	at.decode("POST", "/api/2.0/mlflow/runs/log-batch", keyA, map[string]any{"run_id": run.Run.Info.RunID, "params": batch}, &map[string]any{})
	at.decode("POST", "/api/2.0/mlflow/registered-models/create", keyA, map[string]any{"name": model}, &map[string]any{})
	for range 2 {
		at.decode("POST", "/api/2.0/mlflow/model-versions/create", keyA,
			map[string]any{"name": model, "source": "s3://e2e/model", "run_id": run.Run.Info.RunID}, &map[string]any{})
	}
	aliases := map[string]string{"champion": "2", "challenger": "1"}
	for alias, v := range aliases {
		at.decode("POST", "/api/2.0/mlflow/registered-models/alias", keyA, map[string]any{"name": model, "alias": alias, "version": v}, &map[string]any{})
	}

	spec, _ := json.Marshal(map[string]any{
		"gateway": st.APIURL, "screenshots": shots, "cookie_name": uisession.CookieName,
		"key_a": keyA, "key_b": keyB,
		"a": map[string]any{
			"experiment_id": exp.ExperimentID, "experiment_name": nameA, "run_id": run.Run.Info.RunID, "run_name": runName,
			"params": params, "model_name": model, "versions": []string{"1", "2"}, "aliases": aliases,
		},
		"b": map[string]any{"experiment_id": expB.ExperimentID, "experiment_name": nameB},
	})
	var res browserResult
	runScript(t, &res, "ui_browser.py", nil, st.APIURL+"/api/mlflow", keyA, "E2E_BROWSER_SPEC="+string(spec), "E2E_CHROMIUM="+chromium)

	for _, p := range res.Pages {
		t.Logf("%s %s: %s\n    %s", p.User, p.Name, p.URL, p.Screenshot)
	}
	for _, f := range res.Failures {
		t.Error(f)
	}
	for _, v := range res.CSPViolations {
		t.Errorf("CSP violation (%s at %s): %s", v.User, v.URL, v.Text)
	}
	for _, e := range res.ConsoleErrors {
		t.Logf("console error (%s at %s): %s", e.User, e.URL, e.Text)
	}
	// Logged, not judged: what the checks above did not need (the sign-out's expected 401s among them).
	for _, r := range res.FailedRequests {
		t.Logf("%s: %s %s answered %d", r.User, r.Method, r.Path, r.Status)
	}
	if len(res.Pages) != 11 {
		t.Errorf("%d pages screenshotted, want all 11 visited", len(res.Pages))
	}
	t.Logf("screenshots: %s", shots)
}
