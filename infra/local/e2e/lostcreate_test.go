package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/infra/local/faultproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
)

// Issue 10, item 8, through the whole stack: the first request's CreateModelVersion reaches the
// MLflow fault proxy and is held there; the function gives up on it (its MLflow timeout) and
// answers 504. The retry with the same Idempotency-Key takes the key over once its lease runs out
// and searches for the version: not there yet, so it must not create one (409
// REGISTRATION_OUTCOME_UNKNOWN). Then the held create reaches MLflow, late, and the next retry
// completes the registration with that version: one version in MLflow, never two.
func TestLostCreateIsNeverRepeatedEndToEnd(t *testing.T) {
	writer, _ := registrationKeys(t)
	logged := logThroughGateway(t, writer)
	token := uniqueToken("lost")
	name := "hokusai-" + strings.ToUpper(token)
	body := registerBody(token, logged.RunID, nil)
	key := "lost-" + token

	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // a failed test must not hold MLflow's create
	held := make(chan struct{}, 1)
	h.MLflowFaults.SetFault("mlflow", faultproxy.Fault{PathSuffix: "/model-versions/create", Hold: release,
		OnHold: func(*http.Request) {
			select {
			case held <- struct{}{}:
			default:
			}
		}})
	t.Cleanup(func() { h.MLflowFaults.Clear("mlflow") })

	res, b := postRegister(t, writer, body, key)
	select {
	case <-held:
	default:
		t.Fatalf("the create never reached MLflow's fault proxy; first answer %d %s", res.StatusCode, b)
	}
	if out := jsonBody(t, b); res.StatusCode != 504 || out["error"] != "TIMEOUT" {
		t.Fatalf("first request, its create held: %d %s", res.StatusCode, b)
	}
	// Only the first create is held: were a retry to send another, it would reach MLflow.
	h.MLflowFaults.Clear("mlflow")

	// Retried as Retry-After says: in progress while the first request's lease lasts (its MLflow
	// timeout, MLFLOW_TIMEOUT), then taken over; the version is not in MLflow yet.
	res, b = retryRegister(t, writer, body, key, "IDEMPOTENCY_IN_PROGRESS")
	if out := jsonBody(t, b); res.StatusCode != 409 || out["error"] != "REGISTRATION_OUTCOME_UNKNOWN" || res.Header.Get("Retry-After") == "" {
		t.Fatalf("retry before the create landed: %d %s; versions in MLflow %v", res.StatusCode, b, versionsOf(t, name))
	}
	if vs := versionsOf(t, name); len(vs) != 0 {
		t.Fatalf("versions %v before the held create was released", vs)
	}

	releaseOnce.Do(func() { close(release) })
	waitFor(t, "the held create to land in MLflow", func() bool { return len(versionsOf(t, name)) > 0 })

	res, b = retryRegister(t, writer, body, key, "IDEMPOTENCY_IN_PROGRESS", "REGISTRATION_OUTCOME_UNKNOWN")
	if res.StatusCode != 201 {
		t.Fatalf("retry after the create landed: %d %s", res.StatusCode, b)
	}
	var v record.Registered
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if vs := versionsOf(t, name); len(vs) != 1 || vs[0] != v.Version {
		t.Errorf("versions in MLflow %v, answered version %s", vs, v.Version)
	}
	got := mlflowtest.GetVersion(t, h.APIURL+"/api/mlflow", name, v.Version, "MLFLOW_TRACKING_TOKEN="+writer)
	if got.Tags["hokusai_registration_id"] != v.RegistrationID {
		t.Errorf("the version carries registration %q, the answer %q", got.Tags["hokusai_registration_id"], v.RegistrationID)
	}
	if res, b := call(t, "GET", "/api/registrations/"+v.RegistrationID, nil, bearer(writer)); res.StatusCode != 200 {
		t.Errorf("GET: %d %s", res.StatusCode, b)
	}
	// A repeat now replays the answer.
	if res, again := postRegister(t, writer, body, key); res.StatusCode != 201 || res.Header.Get("Idempotent-Replayed") != "true" ||
		!strings.Contains(string(again), v.RegistrationID) {
		t.Errorf("repeat: %d %s", res.StatusCode, again)
	}
}

// retryRegister posts the registration again, as a client following Retry-After would, while it
// answers 409 with one of codes, and returns the first other answer. Bounded at two minutes.
func retryRegister(t *testing.T, key, body, idempotencyKey string, codes ...string) (*http.Response, []byte) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, b := postRegister(t, key, body, idempotencyKey)
		code, _ := jsonBody(t, b)["error"].(string)
		if res.StatusCode != 409 || !slices.Contains(codes, code) {
			return res, b
		}
		if time.Now().After(deadline) {
			t.Fatalf("still 409 %s after two minutes of retries", code)
		}
		time.Sleep(time.Second) // the Retry-After the answer gives
	}
}

// waitFor polls cond every 200 ms until it holds, for at most a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}
