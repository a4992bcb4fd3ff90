package registration_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules/rulestest"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/events/eventschema"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/record"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

const (
	runID   = "0123456789abcdef0123456789abcdef"
	modelID = "m-0123456789abcdef0123456789abcdef"
)

var metadata = map[string]any{"eval_spec": "specs/eval.yaml", "scorer_ref": "scorers/reply@2", "primary_metric": "reply_rate", "benchmark_spec_id": "bench-7"}

// registerBody is a valid register body for runID with changes.
func registerBody(changes map[string]any) []byte {
	return rulestest.JSONOf(rulestest.ValidRegister, changes)
}

func withMetadata(changes map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range metadata {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

// pendingRecords is every record with events still to publish: a write the test did not expect
// shows up here.
func pendingRecords(t *testing.T, s *regstore.Store) []regstore.Registration {
	t.Helper()
	recs, err := s.ListPending(context.Background(), time.Now().Add(time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestRegister(t *testing.T) {
	e := newEnv(t, "")
	e.ml.addRun(runID, modelID)
	rec := e.register(t, registerBody(withMetadata(map[string]any{
		"current_value": 0.15, "tags": map[string]string{"team": "growth"}, "description": "better replies",
		"contributor_address": "0x" + strings.Repeat("ab", 20), "experiment_name": "gtm",
		"api_schema": map[string]any{"input": "text"},
	})), writer, "")
	v := registered(t, rec)

	t.Run("the answer", func(t *testing.T) {
		if _, err := uuid.Parse(v.RegistrationID); err != nil {
			t.Errorf("registration id %q", v.RegistrationID)
		}
		if v.ModelID != "hokusai-MSG-AI/1/MSG-AI" || v.ModelName != "hokusai-MSG-AI" || v.Version != "1" || v.TokenID != "MSG-AI" ||
			v.ProposalIdentifier != "MSG-AI" || v.ModelURI != "models:/hokusai-MSG-AI/1" || v.Status != "registered" ||
			v.RegisteredAt != "2026-05-01T10:00:00Z" {
			t.Errorf("%+v", v)
		}
		wantIDs := map[string]string{
			events.ModelRegistered:    events.EventID(events.ModelRegistered, v.ModelID, runID, "1"),
			events.ModelReadyToDeploy: events.EventID(events.ModelReadyToDeploy, v.ModelID, runID, "1"),
			// The registration's id in place of the request's: a retry or a re-publication keeps it.
			events.ModelVersionCreated: events.RegistryEventID(events.ModelVersionCreated, v.RegistrationID, v.ModelName, "1", ""),
		}
		if len(v.Events) != len(wantIDs) {
			t.Errorf("events %v", v.Events)
		}
		for dt, id := range wantIDs {
			if got := v.Events[dt]; got.Status != "pending" || got.EventID != id || got.Reason != "" {
				t.Errorf("%s: %+v", dt, got)
			}
		}
		if rec.Header().Get("Idempotent-Replayed") != "" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", rec.Header())
		}
	})

	t.Run("the model version, as register_model makes it, with every tag in the one call", func(t *testing.T) {
		vs := e.ml.allVersions()
		if len(vs) != 1 {
			t.Fatalf("%d versions", len(vs))
		}
		mv := vs[0]
		if mv.Source != "models:/"+modelID || mv.RunID != runID || mv.ModelID != modelID || mv.Description != "better replies" {
			t.Errorf("%+v", mv)
		}
		var keys []string
		for _, tag := range mv.Tags {
			keys = append(keys, tag.Key)
		}
		want := "hokusai_token_id,benchmark_metric,benchmark_value,hokusai_status,hokusai_proposal_identifier," +
			"hokusai_registration_id,mlflow_run_id,user_id,hokusai.eval_spec,hokusai.scorer_ref,hokusai.primary_metric,hokusai.benchmark_spec_id,team"
		if strings.Join(keys, ",") != want {
			t.Errorf("tags %s", strings.Join(keys, ","))
		}
		tags := mlflow.TagMap(mv.Tags)
		if tags["hokusai_token_id"] != "MSG-AI" || tags["benchmark_metric"] != "sales:reply_rate" || tags["benchmark_value"] != "0.1342" ||
			tags["hokusai_status"] != "registered" || tags["hokusai_registration_id"] != v.RegistrationID || tags["user_id"] != writer.UserID ||
			tags["mlflow_run_id"] != runID || tags["hokusai.scorer_ref"] != "scorers/reply@2" {
			t.Errorf("tag values %v", tags)
		}
		if run := e.ml.runTags(runID); len(run) != 4 || run["hokusai.eval_spec"] != "specs/eval.yaml" {
			t.Errorf("run tags %v", run)
		}
	})

	t.Run("the fewest MLflow calls", func(t *testing.T) {
		// A name nobody owns costs one read: whether MLflow held the model before the registry.
		want := map[string]int{
			"GET /api/2.0/mlflow/runs/get":                  1,
			"POST /api/2.0/mlflow/logged-models/search":     1,
			"GET /api/2.0/mlflow/registered-models/search":  1,
			"POST /api/2.0/mlflow/registered-models/create": 1,
			"POST /api/2.0/mlflow/runs/log-batch":           1,
			"POST /api/2.0/mlflow/model-versions/create":    1,
		}
		assertCalls(t, e.ml.callCounts(), want)
		// Without metadata the run is not tagged; an existing registered model is fine, and the
		// caller's own name needs no search.
		e.ml.resetCalls()
		registered(t, e.register(t, registerBody(nil), writer, ""))
		delete(want, "POST /api/2.0/mlflow/runs/log-batch")
		delete(want, "GET /api/2.0/mlflow/registered-models/search")
		assertCalls(t, e.ml.callCounts(), want)
	})

	t.Run("the record holds the Hokusai events and model_version.created, valid against the contract", func(t *testing.T) {
		stored, err := e.store.Get(context.Background(), v.RegistrationID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.UserID != writer.UserID || stored.KeyID != writer.KeyID || stored.OutboxStatus != regstore.OutboxPending ||
			stored.ModelID != v.ModelID || stored.RunID != runID || len(stored.Events) != 3 {
			t.Fatalf("%+v", stored)
		}
		for _, ev := range stored.Events {
			if err := eventschema.Validate(ev.DetailType, []byte(ev.Detail)); err != nil {
				t.Error(err)
			}
			if ev.DetailType == events.ModelVersionCreated {
				var c events.RegistryChange
				_ = json.Unmarshal([]byte(ev.Detail), &c)
				want := events.NewRegistryChange(events.ModelVersionCreated, events.RegistryChange{
					Timestamp: v.RegisteredAt, UserID: writer.UserID, KeyID: writer.KeyID, RequestID: "req-1",
					RegistrationID: v.RegistrationID, Operation: "CreateModelVersion", ModelName: v.ModelName, ModelVersion: "1",
					Description: c.Description, Source: "models:/" + modelID, RunID: runID, ModelID: modelID,
				})
				if c != want || c.EventID != ev.EventID || c.Description == nil || *c.Description != "better replies" {
					t.Errorf("%s detail %s, want %+v", ev.DetailType, ev.Detail, want)
				}
				continue
			}
			var d events.Detail
			_ = json.Unmarshal([]byte(ev.Detail), &d)
			if d.EventID != ev.EventID || d.RegistrationID != v.RegistrationID || d.KeyID != writer.KeyID || d.TokenSymbol != "MSG-AI" ||
				d.ModelURI != v.ModelURI || *d.EvalSpec != "specs/eval.yaml" || d.Tags["team"] != "growth" || d.Tags["user_id"] != writer.UserID ||
				d.Tags["proposal_identifier"] != "MSG-AI" || d.APISchema["input"] != "text" || d.Timestamp != v.RegisteredAt ||
				*d.ImprovementPercentage <= 11.7 || *d.ContributorAddress == "" {
				t.Errorf("%s detail %s", ev.DetailType, ev.Detail)
			}
		}
	})

	t.Run("GET shows the registration to its owner and admins only", func(t *testing.T) {
		path := "/api/registrations/" + v.RegistrationID
		for _, tc := range []struct {
			name   string
			caller principal.Principal
			status int
		}{
			{"owner", writer, 200}, {"admin scope", admin, 200},
			{"admin by e-mail", withEmail(reader, "Boss@Example.com"), 200},
			{"another user", other, 404}, {"a reader", reader, 404},
		} {
			got := e.call(t, context.Background(), "GET", path, nil, tc.caller, nil)
			if got.Code != tc.status {
				t.Errorf("%s: %d %s", tc.name, got.Code, got.Body)
				continue
			}
			if tc.status == 200 {
				var back record.Registered
				_ = json.Unmarshal(got.Body.Bytes(), &back)
				if back.RegistrationID != v.RegistrationID || back.Events[events.ModelRegistered].EventID != v.Events[events.ModelRegistered].EventID {
					t.Errorf("%s: %s", tc.name, got.Body)
				}
			} else if decode(t, got)["error"] != registration.CodeRegistrationNotFound {
				t.Errorf("%s: %s", tc.name, got.Body)
			}
		}
		for _, id := range []string{"nope", uuid.NewString(), strings.ToUpper(v.RegistrationID) + "x"} {
			if got := e.call(t, context.Background(), "GET", "/api/registrations/"+id, nil, writer, nil); got.Code != 404 {
				t.Errorf("%s: %d", id, got.Code)
			}
		}
	})
}

func withEmail(p principal.Principal, email string) principal.Principal {
	p.Email = email
	return p
}

func assertCalls(t *testing.T, got, want map[string]int) {
	t.Helper()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d calls, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected call %s (%d)", k, n)
		}
	}
}

// Every way MLflow can fail becomes the specified JSON answer, MLflow's own text never reaches
// the client, and nothing is recorded.
func TestRegisterStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(*fakeMLflow)
		changes  map[string]any
		status   int
		code     string
		versions int
	}{
		{"MLflow drops the connection", func(f *fakeMLflow) { f.setFault("runs/get", fault{drop: true}) }, nil, 502, "MLFLOW_UNAVAILABLE", 0},
		{"MLflow is slow", func(f *fakeMLflow) { f.setFault("runs/get", fault{delay: 2 * time.Second}) }, nil, 504, "TIMEOUT", 0},
		{"MLflow answers 500", func(f *fakeMLflow) {
			f.setFault("registered-models/create", fault{status: 500, code: "INTERNAL_ERROR"})
		}, nil, 502, "MLFLOW_UNAVAILABLE", 0},
		{"a proxy's HTML 503", func(f *fakeMLflow) { f.setFault("logged-models/search", fault{status: 503}) }, nil, 502, "MLFLOW_UNAVAILABLE", 0},
		{"MLflow refuses the gateway", func(f *fakeMLflow) {
			f.setFault("registered-models/create", fault{status: 403, code: "PERMISSION_DENIED"})
		}, nil, 502, "MLFLOW_UNAVAILABLE", 0},
		{"MLflow finds the version invalid", func(f *fakeMLflow) {
			f.setFault("model-versions/create", fault{status: 400, code: "INVALID_PARAMETER_VALUE"})
		}, nil, 422, "VALIDATION_ERROR", 0},
		{"no such run", func(*fakeMLflow) {}, map[string]any{"mlflow_run_id": "ffffffffffffffffffffffffffffffff"}, 404, "RUN_NOT_FOUND", 0},
		{"a deleted run", func(f *fakeMLflow) { f.runs[runID].info.LifecycleStage = "deleted" }, nil, 404, "RUN_NOT_FOUND", 0},
		{"no logged model of that name", func(*fakeMLflow) {}, map[string]any{"model_uri": "runs:/" + runID + "/other"}, 404, "LOGGED_MODEL_NOT_FOUND", 0},
		{"no such logged model", func(*fakeMLflow) {}, map[string]any{"model_uri": "models:/m-missing"}, 404, "LOGGED_MODEL_NOT_FOUND", 0},
		{"a logged model of another run", func(*fakeMLflow) {}, map[string]any{"model_uri": "models:/" + modelID, "mlflow_run_id": "abc"}, 422, "VALIDATION_ERROR", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", withTimeout(500*time.Millisecond))
			e.ml.addRun(runID, modelID)
			tc.setup(e.ml)
			rec := e.register(t, registerBody(tc.changes), writer, "")
			body := decode(t, rec)
			if rec.Code != tc.status || body["error"] != tc.code || body["detail"] == nil {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "injected upstream text") || strings.Contains(rec.Body.String(), "html") {
				t.Errorf("upstream text leaked: %s", rec.Body)
			}
			if n := len(e.ml.allVersions()); n != tc.versions {
				t.Errorf("%d versions", n)
			}
			if recs := pendingRecords(t, e.store); len(recs) != 0 {
				t.Errorf("recorded %+v", recs)
			}
		})
	}
	t.Run("MLflow is down", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.Close()
		rec := e.register(t, registerBody(nil), writer, "")
		if body := decode(t, rec); rec.Code != 502 || body["error"] != "MLFLOW_UNAVAILABLE" {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
}

func TestRegisterResolvesLikeRegisterModel(t *testing.T) {
	t.Run("several logged models of one name: the one at the largest step", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, "m-a", "m-b", "m-c")
		e.ml.runs[runID].steps = map[string]int{"m-a": 3, "m-b": 9, "m-c": 1}
		registered(t, e.register(t, registerBody(nil), writer, ""))
		if mv := e.ml.allVersions()[0]; mv.Source != "models:/m-b" || mv.ModelID != "m-b" {
			t.Errorf("%+v", mv)
		}
	})
	t.Run("a model logged the MLflow 2 way: the run's artifacts", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID)
		e.ml.runs[runID].mlmodel = true
		registered(t, e.register(t, registerBody(nil), writer, ""))
		if mv := e.ml.allVersions()[0]; mv.Source != "mlflow-artifacts:/1/"+runID+"/artifacts/model" || mv.ModelID != "" || mv.RunID != runID {
			t.Errorf("%+v", mv)
		}
		if n := e.ml.callCounts()["GET /api/2.0/mlflow/artifacts/list"]; n != 1 {
			t.Errorf("%d listings", n)
		}
	})
	t.Run("models:/<model_id>: one call resolves it, its run is the source run", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		v := registered(t, e.register(t, registerBody(map[string]any{"mlflow_run_id": rulestest.Absent, "model_uri": "models:/" + modelID}), writer, ""))
		if mv := e.ml.allVersions()[0]; mv.Source != "models:/"+modelID || mv.RunID != runID || v.Events[events.ModelRegistered].EventID != events.EventID(events.ModelRegistered, v.ModelID, runID, "1") {
			t.Errorf("%+v", mv)
		}
		assertCalls(t, e.ml.callCounts(), map[string]int{
			"GET /api/2.0/mlflow/logged-models/" + modelID:  1,
			"GET /api/2.0/mlflow/registered-models/search":  1,
			"POST /api/2.0/mlflow/registered-models/create": 1,
			"POST /api/2.0/mlflow/model-versions/create":    1,
		})
	})
	t.Run("an explicit model name and an existing registered model of the caller's", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		e.ml.models["Lead Scoring"] = true
		claimAsProxy(t, e.store, writer, "Lead Scoring", "")
		v := registered(t, e.register(t, registerBody(map[string]any{"model_name": "Lead Scoring"}), writer, ""))
		if v.ModelID != "Lead Scoring/1/MSG-AI" || v.ModelURI != "models:/Lead Scoring/1" {
			t.Errorf("%+v", v)
		}
	})
}

// Every MLflow call is bounded by what is left of the invocation, so the 504 is sent in time.
func TestRegisterStaysWithinTheInvocation(t *testing.T) {
	// MLflow would answer after a minute and the client's own timeout is longer still: only the
	// invocation's deadline can end the call.
	e := newEnv(t, "", withTimeout(2*time.Minute))
	e.ml.addRun(runID, modelID)
	e.ml.setFault("runs/get", fault{delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rec := e.call(t, ctx, "POST", "/api/models/register", registerBody(nil), writer, nil)
	if rec.Code != 504 || decode(t, rec)["error"] != "TIMEOUT" {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
	// The answer leaves registration.answerMargin (1.5 s) before the deadline, so it is written
	// while the invocation still runs.
	if err := ctx.Err(); err != nil {
		t.Errorf("answered after the invocation ended: %v", err)
	}
}

func TestRegisterRefusals(t *testing.T) {
	e := newEnv(t, "")
	e.ml.addRun(runID, modelID)
	for _, tc := range []struct {
		name   string
		body   []byte
		caller principal.Principal
		hdr    http.Header
		status int
		code   string
	}{
		{"read scope", registerBody(nil), reader, nil, 403, "FORBIDDEN"},
		{"body over 256 KB", bytes.Repeat([]byte(" "), 256<<10+1), writer, nil, 413, "PAYLOAD_TOO_LARGE"},
		{"not JSON", []byte("{"), writer, nil, 400, "BAD_REQUEST"},
		{"unknown field", registerBody(map[string]any{"model_data": "x"}), writer, nil, 422, "VALIDATION_ERROR"},
		{"Idempotency-Key too long", registerBody(nil), writer, http.Header{"Idempotency-Key": {strings.Repeat("k", 256)}}, 422, "VALIDATION_ERROR"},
		{"two Idempotency-Keys", registerBody(nil), writer, http.Header{"Idempotency-Key": {"a", "b"}}, 422, "VALIDATION_ERROR"},
		{"an event detail over 64 KB", registerBody(map[string]any{"tags": bigTags(20, 4000)}), writer, nil, 422, "VALIDATION_ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.call(t, context.Background(), "POST", "/api/models/register", tc.body, tc.caller, tc.hdr)
			if body := decode(t, rec); rec.Code != tc.status || body["error"] != tc.code {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	if n := len(e.ml.callCounts()); n != 0 {
		t.Errorf("refused requests reached MLflow: %v", e.ml.callCounts())
	}
	rec := e.call(t, context.Background(), "POST", "/api/models/register", registerBody(map[string]any{"x": 1}),
		writer, http.Header{"Idempotency-Key": {strings.Repeat("k", 256)}})
	if d := decode(t, rec)["detail"].([]any); len(d) != 2 {
		t.Errorf("the key's problem and the body's in one answer: %s", rec.Body)
	}
}

func bigTags(n, size int) map[string]string {
	out := map[string]string{}
	for i := range n {
		out["t"+strings.Repeat("x", i)] = strings.Repeat("v", size)
	}
	return out
}

func TestReadinessInTheAnswer(t *testing.T) {
	e := newEnv(t, "")
	e.ml.addRun(runID, modelID)
	v := registered(t, e.register(t, registerBody(map[string]any{"current_value": 0.1}), writer, ""))
	ready := v.Events[events.ModelReadyToDeploy]
	if ready.Status != "not_eligible" || !strings.Contains(ready.Reason, "worse than baseline_value") || ready.EventID != "" {
		t.Errorf("%+v", ready)
	}
	if v.Events[events.ModelRegistered].Status != "pending" {
		t.Errorf("%+v", v.Events)
	}
	stored, _ := e.store.Get(context.Background(), v.RegistrationID)
	if stored.Events[1].Status != regstore.EventNotEligible || stored.Events[1].Detail != "" || stored.Events[1].Reason != ready.Reason {
		t.Errorf("%+v", stored.Events[1])
	}
}

func TestPublishing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pub       *fakePublisher
		want      [3]string // model_registered, model_ready_to_deploy, model_version.created
		outbox    bool
		published int
	}{
		{"all go out", &fakePublisher{}, [3]string{"published", "published", "published"}, false, 3},
		{"one refused", &fakePublisher{allow: func(e regstore.Event) bool { return e.DetailType != events.ModelReadyToDeploy }},
			[3]string{"published", "pending", "published"}, true, 2},
		{"model_version.created refused", &fakePublisher{allow: func(e regstore.Event) bool { return e.DetailType != events.ModelVersionCreated }},
			[3]string{"published", "published", "pending"}, true, 2},
		{"the bus is down", &fakePublisher{fail: errors.New("bus down")}, [3]string{"pending", "pending", "pending"}, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "", withPublisher(tc.pub))
			e.ml.addRun(runID, modelID)
			v := registered(t, e.register(t, registerBody(nil), writer, ""))
			if got := [3]string{v.Events[events.ModelRegistered].Status, v.Events[events.ModelReadyToDeploy].Status, v.Events[events.ModelVersionCreated].Status}; got != tc.want {
				t.Errorf("answer %v", got)
			}
			stored, _ := e.store.Get(context.Background(), v.RegistrationID)
			var got [3]string
			for i, ev := range stored.Events {
				got[i] = ev.Status
			}
			if len(stored.Events) != 3 || stored.Events[2].DetailType != events.ModelVersionCreated || got != tc.want || (stored.OutboxStatus != "") != tc.outbox {
				t.Errorf("record %v outbox %q", got, stored.OutboxStatus)
			}
			if n := len(tc.pub.published()); n != tc.published {
				t.Errorf("%d published", n)
			}
			// GET shows the same statuses.
			back := decode(t, e.call(t, context.Background(), "GET", "/api/registrations/"+v.RegistrationID, nil, writer, nil))
			for i, dt := range []string{events.ModelRegistered, events.ModelReadyToDeploy, events.ModelVersionCreated} {
				if back["events"].(map[string]any)[dt].(map[string]any)["status"] != tc.want[i] {
					t.Errorf("GET %v", back["events"])
				}
			}
		})
	}
}

// failingStore fails the next n record writes.
type failingStore struct {
	registration.Store
	n atomic.Int32
}

func (s *failingStore) Create(ctx context.Context, rec regstore.Registration) error {
	if s.n.Add(-1) >= 0 {
		return errors.New("injected: DynamoDB unavailable")
	}
	return s.Store.Create(ctx, rec)
}

func (s *failingStore) ReplaceOwn(ctx context.Context, rec regstore.Registration) error {
	if s.n.Add(-1) >= 0 {
		return errors.New("injected: DynamoDB unavailable")
	}
	return s.Store.ReplaceOwn(ctx, rec)
}

func TestIdempotency(t *testing.T) {
	t.Run("a repeat is answered with the first registration, and creates nothing", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		first := e.register(t, registerBody(map[string]any{"current_value": 0.2}), writer, "key-1")
		v := registered(t, first)
		e.ml.resetCalls()
		// The same body written differently is the same body.
		same := []byte(`{ "current_value": 0.20, "baseline_value": 1.342e-1, "metric_name": "sales:reply_rate",
			"mlflow_run_id": "` + runID + `", "token_id": "msg-ai" }`)
		again := e.register(t, same, writer, "key-1")
		if registered(t, again).RegistrationID != v.RegistrationID {
			t.Errorf("replay %s, first %s", again.Body, first.Body)
		}
		if again.Body.String() != first.Body.String() || again.Header().Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay %s %v", again.Body, again.Header())
		}
		if len(e.ml.allVersions()) != 1 || len(e.ml.callCounts()) != 0 {
			t.Errorf("the repeat reached MLflow: %v", e.ml.callCounts())
		}
		// Another user's key of the same name is another key (for a model name of their own).
		registered(t, e.register(t, registerBody(map[string]any{"current_value": 0.2, "token_id": "other-ai"}), other, "key-1"))
		if len(e.ml.allVersions()) != 2 {
			t.Error("keys are not scoped to the user")
		}
	})

	t.Run("the same key with another body is a conflict", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		registered(t, e.register(t, registerBody(nil), writer, "key-2"))
		rec := e.register(t, registerBody(map[string]any{"current_value": 0.5}), writer, "key-2")
		if rec.Code != 409 || decode(t, rec)["error"] != "IDEMPOTENCY_KEY_REUSED" {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})

	t.Run("without a key every call registers", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		a := registered(t, e.register(t, registerBody(nil), writer, ""))
		b := registered(t, e.register(t, registerBody(nil), writer, ""))
		if a.RegistrationID == b.RegistrationID || len(e.ml.allVersions()) != 2 {
			t.Errorf("%s %s", a.RegistrationID, b.RegistrationID)
		}
	})

	t.Run("while the first is in flight: 409 with Retry-After", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		inside, release := make(chan struct{}), make(chan struct{})
		e.ml.setAfterCreate(func() { close(inside); <-release })
		done := make(chan int)
		go func() { done <- e.register(t, registerBody(nil), writer, "key-3").Code }()
		<-inside
		rec := e.register(t, registerBody(nil), writer, "key-3")
		close(release)
		if rec.Code != 409 || decode(t, rec)["error"] != "IDEMPOTENCY_IN_PROGRESS" || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("%d %s %v", rec.Code, rec.Body, rec.Header())
		}
		if code := <-done; code != 201 {
			t.Errorf("first: %d", code)
		}
	})

	t.Run("twenty concurrent duplicates make one version", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		var wg sync.WaitGroup
		codes := make([]int, 20)
		for i := range codes {
			wg.Go(func() { codes[i] = e.register(t, registerBody(nil), writer, "key-4").Code })
		}
		wg.Wait()
		created := 0
		for _, c := range codes {
			switch c {
			case 201:
				created++
			case 409:
			default:
				t.Errorf("status %d", c)
			}
		}
		if n := len(e.ml.allVersions()); n != 1 || created == 0 {
			t.Errorf("%d versions, %d answers 201: %v", n, created, codes)
		}
	})

	t.Run("a failure that created nothing frees the key", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		e.ml.setFault("runs/get", fault{status: 503})
		if rec := e.register(t, registerBody(nil), writer, "key-5"); rec.Code != 502 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		e.ml.setFault("runs/get", fault{})
		// Free for any body, at once.
		registered(t, e.register(t, registerBody(map[string]any{"current_value": 0.3}), writer, "key-5"))
	})

	t.Run("the record could not be written: the retry finds the version by its tag", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		fs := &failingStore{Store: e.store}
		fs.n.Store(1)
		h := registration.New(registration.Deps{MLflow: mlflowClient(e.ml.URL, 5*time.Second), Store: fs, MLflowTimeout: 5 * time.Second})
		e.h = h
		rec := e.register(t, registerBody(nil), writer, "key-6")
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(decode(t, rec)["detail"].(string), "Idempotency-Key") {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		if len(e.ml.allVersions()) != 1 || len(pendingRecords(t, e.store)) != 0 {
			t.Fatal("want the version without its record")
		}
		e.ml.resetCalls()
		again := e.register(t, registerBody(nil), writer, "key-6")
		v := registered(t, again)
		if again.Header().Get("Idempotent-Replayed") != "true" || len(e.ml.allVersions()) != 1 {
			t.Errorf("%d versions, headers %v", len(e.ml.allVersions()), again.Header())
		}
		assertCalls(t, e.ml.callCounts(), map[string]int{"GET /api/2.0/mlflow/model-versions/search": 1})
		if tags := mlflow.TagMap(e.ml.allVersions()[0].Tags); tags["hokusai_registration_id"] != v.RegistrationID {
			t.Errorf("answered with registration %s for a version tagged %s", v.RegistrationID, tags["hokusai_registration_id"])
		}
		stored, err := e.store.Get(context.Background(), v.RegistrationID)
		if err != nil {
			t.Fatal(err)
		}
		// The version found by its tag is still the one this registration created: it owes
		// model_version.created, under the id the first request would have given it.
		created := stored.Events[len(stored.Events)-1]
		if created.DetailType != events.ModelVersionCreated || created.Status != regstore.EventPending ||
			created.EventID != events.RegistryEventID(events.ModelVersionCreated, v.RegistrationID, v.ModelName, v.Version, "") {
			t.Errorf("events %+v", stored.Events)
		}
		if err := eventschema.Validate(created.DetailType, []byte(created.Detail)); err != nil || !strings.Contains(created.Detail, `"source":"models:/`+modelID+`"`) {
			t.Errorf("%v: %s", err, created.Detail)
		}
	})

	t.Run("MLflow's answer to the create was lost: no retry creates another", func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		e := newEnv(t, "", withTimeout(timeout))
		e.ml.addRun(runID, modelID)
		e.ml.setAfterCreate(func() { time.Sleep(2 * timeout) }) // created, but answered too late
		if rec := e.register(t, registerBody(nil), writer, "key-7"); rec.Code != 504 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		e.ml.setAfterCreate(nil)
		// At once: MLflow may still be working on the call given up on.
		if rec := e.register(t, registerBody(nil), writer, "key-7"); rec.Code != 409 {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
		time.Sleep(timeout + 100*time.Millisecond)
		registered(t, e.register(t, registerBody(nil), writer, "key-7"))
		if n := len(e.ml.allVersions()); n != 1 {
			t.Errorf("%d versions", n)
		}
	})

	t.Run("a request that died after creating the version: a retry past its lease finishes it", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		// The dead request's state: its claim, leased until its invocation ended, and its version.
		deadID := uuid.NewString()
		body := registerBody(nil)
		hash := canonical(t, body)
		pk := regstore.IdempotencyPK(writer.UserID, "key-8")
		if held, err := e.store.ClaimIdempotency(context.Background(), regstore.Idempotency{
			PK: pk, UserID: writer.UserID, BodyHash: hash, RegistrationID: deadID, Owner: "dead",
			LeaseUntil: time.Now().Add(-time.Second).UnixMilli(),
		}, time.Now()); held != nil || err != nil {
			t.Fatal(held, err)
		}
		// The dead request claimed the name before it created the model.
		claimAsProxy(t, e.store, writer, "hokusai-MSG-AI", "")
		e.ml.models["hokusai-MSG-AI"] = true
		e.ml.versions["hokusai-MSG-AI"] = []mlflow.ModelVersion{{Name: "hokusai-MSG-AI", Version: "1", Source: "models:/" + modelID, RunID: runID,
			Tags: []mlflow.Tag{{Key: "hokusai_registration_id", Value: deadID}}}}
		v := registered(t, e.register(t, body, writer, "key-8"))
		if v.RegistrationID != deadID || v.Version != "1" || len(e.ml.allVersions()) != 1 {
			t.Errorf("%+v, %d versions", v, len(e.ml.allVersions()))
		}
		// A request that died before MLflow: the retry registers, under the dead one's id.
		pk9 := regstore.IdempotencyPK(writer.UserID, "key-9")
		deadID = uuid.NewString()
		_, _ = e.store.ClaimIdempotency(context.Background(), regstore.Idempotency{PK: pk9, UserID: writer.UserID, BodyHash: hash,
			RegistrationID: deadID, Owner: "dead", LeaseUntil: time.Now().Add(-time.Second).UnixMilli()}, time.Now())
		v = registered(t, e.register(t, body, writer, "key-9"))
		if v.RegistrationID != deadID || v.Version != "2" {
			t.Errorf("%+v", v)
		}
		// A live lease is respected.
		_, _ = e.store.ClaimIdempotency(context.Background(), regstore.Idempotency{PK: regstore.IdempotencyPK(writer.UserID, "key-10"),
			UserID: writer.UserID, BodyHash: hash, RegistrationID: uuid.NewString(), Owner: "alive",
			LeaseUntil: time.Now().Add(time.Minute).UnixMilli()}, time.Now())
		if rec := e.register(t, body, writer, "key-10"); rec.Code != 409 {
			t.Errorf("%d", rec.Code)
		}
	})
}

// canonical is the body hash the handler stores for an Idempotency-Key.
func canonical(t *testing.T, body []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return sha256Hex(b)
}

func mlflowClient(rawURL string, timeout time.Duration) *mlflow.Client {
	u, _ := url.Parse(rawURL)
	return mlflow.New(u, timeout, nil)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sdkVersion registers a version in the fake as by does with the SDK through the proxy, which
// claims what MLflow created as mlflowproxy's claimCreated does (claimAsProxy).
func (e *env) sdkVersion(t testing.TB, by principal.Principal, name, version, runID string, tags ...mlflow.Tag) {
	t.Helper()
	e.ml.addVersion(name, version, runID, tags...)
	claimAsProxy(t, e.store, by, name, version)
}

// claimAsProxy repeats the proxy's owner claims on a create (mlflowproxy's claimCreated): the name
// for by, then, when the name is theirs, the version ("" none).
func claimAsProxy(t testing.TB, s *regstore.Store, by principal.Principal, name, version string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.ClaimOwner(ctx, regstore.ModelOwnerPK(name), by.UserID, name, "", time.Now())
	if errors.Is(err, regstore.ErrOwned) || err == nil && version == "" {
		return
	}
	if err == nil {
		_, err = s.ClaimOwner(ctx, regstore.VersionOwnerPK(name, version), by.UserID, name, version, time.Now())
	}
	if err != nil && !errors.Is(err, regstore.ErrOwned) {
		t.Fatal(err)
	}
}

// addVersion registers a version in the fake and claims nothing: a version created in MLflow
// before the registry knew it, or through the proxy under a name another user owns.
func (f *fakeMLflow) addVersion(name, version, runID string, tags ...mlflow.Tag) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.models[name] = true
	f.versions[name] = append(f.versions[name], mlflow.ModelVersion{Name: name, Version: version, Source: "models:/" + modelID, RunID: runID, Tags: tags})
}

func TestAnnounce(t *testing.T) {
	const path = "/api/models/tokenized-registration-events"
	post := func(e *env, body []byte, p principal.Principal) *httptest.ResponseRecorder {
		return e.call(t, context.Background(), "POST", path, body, p, nil)
	}
	const ok = `{"status":"ok","model_id":"hokusai-HLEAD/7/HLEAD","model_name":"hokusai-HLEAD","version":"7","event_emitted":true,"detail":null}`

	t.Run("the SDK's event for a version it registered, and its repeat", func(t *testing.T) {
		pub := &fakePublisher{}
		e := newEnv(t, "", withPublisher(pub))
		e.ml.addRun(runID, modelID)
		e.sdkVersion(t, writer, "hokusai-HLEAD", "7", runID, mlflow.Tag{Key: "hokusai.scorer_ref", Value: "s1"})
		body := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"mlflow_run_id": rulestest.Absent, "scorer_ref": "s1", "eval_spec": "e1", "current_value": 0.2, "sdk": "x"})
		rec := post(e, body, writer)
		if rec.Code != 200 || rec.Body.String() != ok {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		// The version lacked only eval_spec: one set-tag; the run gets both in one call.
		assertCalls(t, e.ml.callCounts(), map[string]int{
			"GET /api/2.0/mlflow/model-versions/get":      1,
			"POST /api/2.0/mlflow/model-versions/set-tag": 1,
			"POST /api/2.0/mlflow/runs/log-batch":         1,
		})
		if tags := mlflow.TagMap(e.ml.allVersions()[0].Tags); tags["hokusai.eval_spec"] != "e1" {
			t.Errorf("version tags %v", tags)
		}
		if tags := e.ml.runTags(runID); tags["hokusai.eval_spec"] != "e1" || tags["hokusai.scorer_ref"] != "s1" {
			t.Errorf("run tags %v", tags)
		}
		modelIDv := "hokusai-HLEAD/7/HLEAD"
		id := registration.AnnouncementID(modelIDv)
		stored, err := e.store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.RunID != runID || stored.UserID != writer.UserID || stored.OutboxStatus != "" {
			t.Errorf("%+v", stored)
		}
		sent := pub.published()
		if len(sent) != 2 || sent[0].EventID != events.EventID(events.ModelRegistered, modelIDv, runID, "7") {
			t.Fatalf("published %+v", sent)
		}
		for _, ev := range sent {
			if err := eventschema.Validate(ev.DetailType, []byte(ev.Detail)); err != nil {
				t.Error(err)
			}
		}
		var d events.Detail
		_ = json.Unmarshal([]byte(sent[0].Detail), &d)
		if d.ModelURI != "models:/hokusai-HLEAD/7" || d.MLflowRunID != runID || d.Tags["hokusai_token_id"] != "HLEAD" || d.Tags["user_id"] != writer.UserID {
			t.Errorf("detail %s", sent[0].Detail)
		}
		// The repeat: the same events under the same ids, nothing new in MLflow.
		e.ml.resetCalls()
		if rec := post(e, body, writer); rec.Code != 200 || rec.Body.String() != ok {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		again := pub.published()[2:]
		if len(again) != 2 || again[0].EventID != sent[0].EventID || again[1].EventID != sent[1].EventID {
			t.Errorf("republished %+v", again)
		}
		assertCalls(t, e.ml.callCounts(), map[string]int{
			"GET /api/2.0/mlflow/model-versions/get": 1,
			"POST /api/2.0/mlflow/runs/log-batch":    1,
		})
		// And GET shows it to its owner.
		if rec := e.call(t, context.Background(), "GET", "/api/registrations/"+id, nil, writer, nil); rec.Code != 200 {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		e.sdkVersion(t, writer, "hokusai-HLEAD", "7", runID)
		for _, tc := range []struct {
			name   string
			body   []byte
			caller principal.Principal
			status int
			code   string
		}{
			{"no such version", rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"version": "8"}), writer, 404, "MODEL_VERSION_NOT_FOUND"},
			{"no such model", rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"model_name": "nope"}), writer, 404, "MODEL_VERSION_NOT_FOUND"},
			{"another run", rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"mlflow_run_id": "ffff"}), writer, 422, "VALIDATION_ERROR"},
			{"read scope", rulestest.JSONOf(rulestest.ValidEvent, nil), reader, 403, "FORBIDDEN"},
			{"invalid body", rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"baseline_value": "x"}), writer, 422, "VALIDATION_ERROR"},
		} {
			rec := post(e, tc.body, tc.caller)
			if body := decode(t, rec); rec.Code != tc.status || body["error"] != tc.code {
				t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		if n := len(pendingRecords(t, e.store)); n != 0 {
			t.Errorf("%d records", n)
		}
	})

	t.Run("the events can neither be recorded nor published: 502", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		e.sdkVersion(t, writer, "hokusai-HLEAD", "7", runID)
		fs := &failingStore{Store: e.store}
		fs.n.Store(10)
		e.h = registration.New(registration.Deps{MLflow: mlflowClient(e.ml.URL, time.Second), Store: fs, MLflowTimeout: time.Second})
		rec := post(e, rulestest.JSONOf(rulestest.ValidEvent, nil), writer)
		if body := decode(t, rec); rec.Code != 502 || body["detail"] != "Failed to emit model registration event" {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
		// Not recorded, but published: the events are out, which is what the client asked for.
		pub := &fakePublisher{}
		e.h = registration.New(registration.Deps{MLflow: mlflowClient(e.ml.URL, time.Second), Store: fs, Publisher: pub, MLflowTimeout: time.Second})
		if rec := post(e, rulestest.JSONOf(rulestest.ValidEvent, nil), writer); rec.Code != 200 || len(pub.published()) != 2 {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
}
