// Package mlflowtest drives the stock MLflow Python client (testdata/clients/registration_client.py,
// run with the repository's virtualenv) for tests that need real MLflow state: a logged model, a
// version registered by mlflow.register_model, a registered model loaded and used.
package mlflowtest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// Logged is a run with a logged model named "model".
type Logged struct {
	RunID        string `json:"run_id"`
	ExperimentID string `json:"experiment_id"`
	ModelID      string `json:"model_id"`
}

// Version is a model version as the Python client reads it.
type Version struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	Source  string            `json:"source"`
	RunID   string            `json:"run_id"`
	ModelID *string           `json:"model_id"`
	Tags    map[string]string `json:"tags"`
}

// Run runs a step of the client script against trackingURI with env added to the environment,
// and decodes its result into out. It fails the test when the step fails.
func Run(t testing.TB, trackingURI string, env []string, out any, step string, args ...string) {
	t.Helper()
	RunScript(t, "registration_client.py", trackingURI, env, out, step, args...)
}

// RunScript is Run for another client script of testdata/clients that follows the same
// convention (a step and its arguments; one `E2E_RESULT <json>` line; non-zero on failure).
func RunScript(t testing.TB, script, trackingURI string, env []string, out any, step string, args ...string) {
	t.Helper()
	root := testenv.Root(t)
	python := testenv.Python(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join(root, "testdata/clients", script), step}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+trackingURI, "MLFLOW_HTTP_REQUEST_MAX_RETRIES=0",
		"GIT_PYTHON_REFRESH=quiet", "MLFLOW_ENABLE_ASYNC_LOGGING=false", "HOME="+cmd.Dir)
	cmd.Env = append(cmd.Env, env...)
	output, err := cmd.CombinedOutput()
	var result json.RawMessage
	for line := range strings.SplitSeq(string(output), "\n") {
		if rest, ok := strings.CutPrefix(line, "E2E_RESULT "); ok {
			result = json.RawMessage(rest)
		}
	}
	var status struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal(result, &status)
	if err != nil || !status.OK {
		t.Fatalf("%s %v: %v %s\n%s", step, args, err, status.Error, tail(string(output), 3000))
	}
	if out != nil {
		if err := json.Unmarshal(result, out); err != nil {
			t.Fatalf("%s result: %v", step, err)
		}
	}
}

// LogModel logs a pyfunc model (predict: x + 1) named "model" in a new run.
func LogModel(t testing.TB, trackingURI string, env ...string) Logged {
	t.Helper()
	var l Logged
	Run(t, trackingURI, env, &l, "log")
	return l
}

// RegisterModel registers the run's model with mlflow.register_model, as a client does.
func RegisterModel(t testing.TB, trackingURI, runID, name string, env ...string) Version {
	t.Helper()
	var v Version
	Run(t, trackingURI, env, &v, "register", runID, name)
	return v
}

// GetVersion reads a model version with the Python client.
func GetVersion(t testing.TB, trackingURI, name, version string, env ...string) Version {
	t.Helper()
	var v Version
	Run(t, trackingURI, env, &v, "version", name, version)
	return v
}

// Predict loads models:/<name>/<version> and returns its prediction for x = 41 (42 expected).
func Predict(t testing.TB, trackingURI, name, version string, env ...string) float64 {
	t.Helper()
	var p struct {
		Prediction float64 `json:"prediction"`
	}
	Run(t, trackingURI, env, &p, "load", name, version)
	return p.Prediction
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
