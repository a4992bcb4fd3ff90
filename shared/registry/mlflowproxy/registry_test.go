package mlflowproxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/changes"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// publisher is a bus in memory: it records every PutEvents it gets, failing them with err.
type publisher struct {
	mu        sync.Mutex
	calls     [][]regstore.Event
	deadlines []deadlineCall
	err       error
}

func (p *publisher) Publish(ctx context.Context, evs []regstore.Event) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, evs)
	p.deadlines = append(p.deadlines, callOf(ctx))
	if p.err != nil {
		return nil, p.err
	}
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.EventID)
	}
	return ids, nil
}

// announcingProxy is the proxy for an upstream at rawURL with store and pub.
func announcingProxy(t *testing.T, rawURL string, store *owners, pub mlflowproxy.Publisher) http.Handler {
	t.Helper()
	cfg := testConfig(t, rawURL, nil)
	creds, err := upstream.LoadCredentials(context.Background(), cfg.Config, nil)
	if err != nil {
		t.Fatal(err)
	}
	return mlflowproxy.New(cfg, creds, store, pub, quietLog())
}

// registryWrites are one call of each registry write, as the stock client sends it.
var registryWrites = []struct {
	method, endpoint, body, answer, detailType string
}{
	{"POST", "registered-models/create", `{"name":"Churn"}`, modelCreated, events.RegisteredModelCreated},
	{"POST", "registered-models/rename", `{"name":"Churn","new_name":"Churn2"}`, `{}`, events.RegisteredModelRenamed},
	{"PATCH", "registered-models/update", `{"name":"Churn","description":"d"}`, `{}`, events.RegisteredModelUpdated},
	{"DELETE", "registered-models/delete", `{"name":"Churn"}`, `{}`, events.RegisteredModelDeleted},
	{"POST", "registered-models/set-tag", `{"name":"Churn","key":"k","value":"v"}`, `{}`, events.RegisteredModelTagSet},
	{"DELETE", "registered-models/delete-tag", `{"name":"Churn","key":"k"}`, `{}`, events.RegisteredModelTagDeleted},
	{"POST", "registered-models/alias", `{"name":"Churn","alias":"champion","version":"3"}`, `{}`, events.ModelVersionAliasCreated},
	{"DELETE", "registered-models/alias", `{"name":"Churn","alias":"champion"}`, `{}`, events.ModelVersionAliasDeleted},
	{"POST", "model-versions/create", `{"name":"Churn","source":"s"}`, versionCreated, events.ModelVersionCreated},
	{"PATCH", "model-versions/update", `{"name":"Churn","version":"3","description":"d"}`, `{}`, events.ModelVersionUpdated},
	{"DELETE", "model-versions/delete", `{"name":"Churn","version":"3"}`, `{}`, events.ModelVersionDeleted},
	{"POST", "model-versions/transition-stage", `{"name":"Churn","version":"3","stage":"Production"}`, `{}`, events.ModelVersionStageTransitioned},
	{"POST", "model-versions/set-tag", `{"name":"Churn","version":"3","key":"k","value":"v"}`, `{}`, events.ModelVersionTagSet},
	{"DELETE", "model-versions/delete-tag", `{"name":"Churn","version":"3","key":"k"}`, `{}`, events.ModelVersionTagDeleted},
}

// Every registry write MLflow accepts is published once, before its answer leaves, with the
// caller and the change; MLflow gets the body byte for byte and the client MLflow's answer.
func TestRegistryWritesArePublished(t *testing.T) {
	seen := map[string]bool{}
	for _, w := range registryWrites {
		for _, mount := range []string{"/api/mlflow/api/2.0/mlflow/", "/mlflow/ajax-api/2.0/mlflow/", "/api/2.0/mlflow/"} {
			t.Run(w.method+" "+mount+w.endpoint, func(t *testing.T) {
				up := newRecorder(t, reply(200, w.answer))
				store, pub := &owners{}, &publisher{}
				rec := serve(announcingProxy(t, up.URL, store, pub), request(t, w.method, mount+w.endpoint, []byte(w.body), &writer, nil))
				if rec.Code != 200 || rec.Body.String() != w.answer {
					t.Fatalf("answer %d %q", rec.Code, rec.Body)
				}
				if got := string(up.last(t).Body); got != w.body {
					t.Errorf("MLflow got %q, want %q", got, w.body)
				}
				if len(pub.calls) != 1 || len(pub.calls[0]) != 1 || len(store.changes) != 0 {
					t.Fatalf("published %v, outbox %v", pub.calls, store.changes)
				}
				ev := pub.calls[0][0]
				var d events.RegistryChange
				if err := json.Unmarshal([]byte(ev.Detail), &d); err != nil {
					t.Fatal(err)
				}
				if ev.DetailType != w.detailType || d.EventID != ev.EventID || d.UserID != writer.UserID ||
					d.KeyID != writer.KeyID || d.RequestID != "req-1" || d.ModelName != "Churn" {
					t.Errorf("event %s %s", ev.DetailType, ev.Detail)
				}
				seen[ev.DetailType] = true
			})
		}
	}
	for _, dt := range events.RegistryDetailTypes {
		if !seen[dt] {
			t.Errorf("no registry write yields %s", dt)
		}
	}
}

// When the bus fails, the change goes to the outbox, the same event; when both fail, the client
// still gets MLflow's answer (the change is made).
func TestRegistryChangesGoToTheOutboxWhenTheBusFails(t *testing.T) {
	body := `{"name":"Churn","alias":"champion","version":"3"}`
	for _, tc := range []struct {
		name      string
		pub       *publisher
		changeErr error
		outboxed  int
	}{
		{"bus down", &publisher{err: errors.New("unreachable")}, nil, 1},
		{"no bus configured", nil, nil, 1},
		{"bus and table down", &publisher{err: errors.New("unreachable")}, errors.New("table down"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, reply(200, `{}`))
			store := &owners{changeErr: tc.changeErr}
			var pub mlflowproxy.Publisher
			if tc.pub != nil {
				pub = tc.pub
			}
			rec := serve(announcingProxy(t, up.URL, store, pub), request(t, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/alias", []byte(body), &writer, nil))
			if rec.Code != 200 || rec.Body.String() != `{}` {
				t.Fatalf("answer %d %q", rec.Code, rec.Body)
			}
			if tc.pub != nil && len(tc.pub.calls) != 1 {
				t.Errorf("%d PutEvents, want 1", len(tc.pub.calls))
			}
			if len(store.changes) != tc.outboxed {
				t.Fatalf("outbox %v", store.changes)
			}
			if tc.outboxed == 1 {
				want := events.RegistryEventID(events.ModelVersionAliasCreated, "req-1", "Churn", "3", "champion")
				if ev := store.changes[0]; ev.EventID != want || ev.Status != regstore.EventPending || !strings.Contains(ev.Detail, want) {
					t.Errorf("outbox item %+v", ev)
				}
			}
		})
	}
}

// What the proxy does after MLflow accepted a write outlives the request but not the invocation,
// which Lambda freezes at its deadline: the bus gets what time is left less the outbox item's
// reserve, or is skipped, and the outbox item always comes, before the deadline. Once, the two
// took their full 1 s and 2 s past it, and a change near the deadline went unrecorded.
// (Deadlines are compared, not durations measured; a stalled machine only skips the bus sooner.)
func TestRegistryChangesKeepWithinTheInvocation(t *testing.T) {
	for _, tc := range []struct {
		name           string
		method, path   string
		body, answer   string
		claimsHang     bool
		left           time.Duration // until the invocation's deadline, as the request starts
		busMayBeCalled bool
	}{
		{"the bus within what is left, then the outbox", "POST", "registered-models/alias",
			`{"name":"Churn","alias":"champion","version":"3"}`, `{}`, false, 1500 * time.Millisecond, true},
		// The owner claim of a create takes all it may (the table does not answer): what is left is
		// the outbox's reserve, so the bus is not tried.
		{"an owner claim that hangs leaves only the outbox's reserve", "POST", "registered-models/create",
			`{"name":"Churn"}`, modelCreated, true, 1500 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRecorder(t, reply(200, tc.answer))
			store, pub := &owners{hang: tc.claimsHang}, &publisher{err: errors.New("unreachable")}
			deadline := time.Now().Add(tc.left)
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			rec := serve(announcingProxy(t, up.URL, store, pub),
				requestCtx(t, ctx, tc.method, "/api/mlflow/api/2.0/mlflow/"+tc.path, []byte(tc.body), &writer, nil))
			if rec.Code != 200 {
				t.Fatalf("answer %d %q", rec.Code, rec.Body)
			}
			if !tc.busMayBeCalled && len(pub.calls) != 0 {
				t.Errorf("%d PutEvents with only the outbox's reserve left", len(pub.calls))
			}
			for _, c := range pub.deadlines {
				if c.deadline.IsZero() || c.deadline.After(deadline.Add(-mlflowproxy.OutboxReserve)) {
					t.Errorf("PutEvents may run until %s, into the outbox's reserve before the deadline %s", c.deadline, deadline)
				}
			}
			if len(store.changes) != 1 || len(store.changeCalls) != 1 {
				t.Fatalf("outbox %v", store.changes)
			}
			if c := store.changeCalls[0]; c.deadline.IsZero() || c.deadline.After(deadline.Add(-mlflowproxy.AnswerMargin)) {
				t.Errorf("the outbox item may be written until %s, past the deadline %s less the answer's margin", c.deadline, deadline)
			}
		})
	}
}

// A write MLflow refuses yields nothing, and so does every read and every other write: not a
// single call to the bus or the table (counted, not timed).
func TestOnlyAcceptedRegistryWritesCallOut(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"refused alias", "POST", "/api/mlflow/api/2.0/mlflow/registered-models/alias", `{"name":"Churn","alias":"a","version":"99"}`, 404},
		{"refused tag", "POST", "/api/mlflow/api/2.0/mlflow/model-versions/set-tag", `{"name":"Churn"}`, 400},
		{"MLflow failed", "DELETE", "/api/mlflow/api/2.0/mlflow/registered-models/delete", `{"name":"Churn"}`, 500},
		{"read: get", "GET", "/api/mlflow/api/2.0/mlflow/registered-models/get?name=Churn", ``, 200},
		{"read: alias", "GET", "/api/mlflow/api/2.0/mlflow/registered-models/alias?name=Churn&alias=a", ``, 200},
		{"read: search", "GET", "/api/mlflow/api/2.0/mlflow/registered-models/search?filter=name%3D%27Churn%27", ``, 200},
		{"read: latest versions by POST", "POST", "/api/mlflow/api/2.0/mlflow/registered-models/get-latest-versions", `{"name":"Churn"}`, 200},
		{"another write", "POST", "/api/mlflow/api/2.0/mlflow/runs/create", `{}`, 200},
		{"not a registry write under that method", "GET", "/api/mlflow/api/2.0/mlflow/model-versions/get?name=Churn&version=1", ``, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer := `{}`
			if tc.status >= 400 {
				answer = `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no"}`
			}
			up := newRecorder(t, reply(tc.status, answer))
			store, pub := &owners{}, &publisher{}
			rec := serve(announcingProxy(t, up.URL, store, pub), request(t, tc.method, tc.path, []byte(tc.body), &writer, nil))
			if rec.Code != tc.status {
				t.Fatalf("answer %d %s", rec.Code, rec.Body)
			}
			claims, _ := store.snapshot()
			if len(pub.calls) != 0 || len(store.changes) != 0 || len(claims) != 0 {
				t.Errorf("calls out: %d PutEvents, %d outbox items, %d claims", len(pub.calls), len(store.changes), len(claims))
			}
		})
	}
}

// A registry write's body is buffered, and bounded: a longer one is refused before MLflow sees
// it (MLflow could accept a change that could not be announced). Other bodies stream unbounded.
func TestRegistryWriteBodiesAreBounded(t *testing.T) {
	big := `{"name":"Churn","key":"k","value":"` + strings.Repeat("v", changes.MaxRequestBody) + `"}`
	up := newRecorder(t, nil)
	store, pub := &owners{}, &publisher{}
	h := announcingProxy(t, up.URL, store, pub)
	rec := serve(h, request(t, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/set-tag", []byte(big), &writer, nil))
	if rec.Code != http.StatusRequestEntityTooLarge || mlflowBody(t, rec.Body.Bytes())["error_code"] != "PAYLOAD_TOO_LARGE" {
		t.Fatalf("answer %d %s", rec.Code, rec.Body)
	}
	if up.count.Load() != 0 || len(pub.calls) != 0 || len(store.changes) != 0 {
		t.Fatal("an oversize registry write reached MLflow or the bus")
	}
	rec = serve(h, request(t, "POST", "/api/mlflow/api/2.0/mlflow/runs/log-batch", []byte(big), &writer, nil))
	if rec.Code != 200 || len(up.last(t).Body) != len(big) {
		t.Fatalf("another write's long body: %d, MLflow got %d bytes", rec.Code, len(up.last(t).Body))
	}
}
