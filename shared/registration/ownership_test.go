package registration_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registration"
)

// mlflowWrites counts the calls that change something in MLflow.
func mlflowWrites(calls map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range calls {
		if strings.HasPrefix(k, "POST ") && !strings.HasSuffix(k, "/search") {
			out[k] = n
		}
	}
	return out
}

func TestOwnership(t *testing.T) {
	const path = "/api/models/tokenized-registration-events"
	announce := func(e *env, body []byte, p principal.Principal) *httptest.ResponseRecorder {
		return e.call(t, context.Background(), "POST", path, body, p, nil)
	}
	refused := func(t *testing.T, rec *httptest.ResponseRecorder, code string) {
		t.Helper()
		if body := decode(t, rec); rec.Code != 403 || body["error"] != code || body["detail"] == "" {
			t.Errorf("%d %s, want 403 %s", rec.Code, rec.Body, code)
		}
	}

	t.Run("another user's announcement of a version changes nothing", func(t *testing.T) {
		pub := &fakePublisher{}
		e := newEnv(t, "", withPublisher(pub))
		e.ml.addRun(runID, modelID)
		e.ml.addVersion("hokusai-HLEAD", "7", runID)
		body := jsonOf(validEvent, map[string]any{"eval_spec": "e1"})
		if rec := announce(e, body, writer); rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		id := registration.AnnouncementID("hokusai-HLEAD/7/HLEAD")
		before, err := e.store.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		sent := len(pub.published())
		tagsBefore := mlflow.TagMap(e.ml.allVersions()[0].Tags)
		e.ml.resetCalls()
		for _, tc := range []struct {
			name string
			body []byte
			code string
		}{
			{"the same announcement, other metric values", jsonOf(validEvent, map[string]any{"eval_spec": "forged", "current_value": 0.9}), "MODEL_VERSION_OWNED_BY_ANOTHER_USER"},
			{"the version claimed for another token", jsonOf(validEvent, map[string]any{"token_id": "MINE", "eval_spec": "forged"}), "MODEL_OWNED_BY_ANOTHER_USER"},
		} {
			t.Run(tc.name, func(t *testing.T) { refused(t, announce(e, tc.body, other), tc.code) })
		}
		if w := mlflowWrites(e.ml.callCounts()); len(w) != 0 {
			t.Errorf("MLflow writes %v", w)
		}
		if got := mlflow.TagMap(e.ml.allVersions()[0].Tags); got["hokusai.eval_spec"] != tagsBefore["hokusai.eval_spec"] {
			t.Errorf("tags now %v", got)
		}
		if n := len(pub.published()); n != sent {
			t.Errorf("%d more events published", n-sent)
		}
		after, err := e.store.Get(context.Background(), id)
		if err != nil || after.UserID != writer.UserID || after.Response != before.Response || after.Events[0].Detail != before.Events[0].Detail {
			t.Errorf("record now %+v %v", after, err)
		}
		if rec := e.call(t, context.Background(), "GET", "/api/registrations/"+id, nil, writer, nil); rec.Code != 200 {
			t.Errorf("owner's GET: %d %s", rec.Code, rec.Body)
		}
		// The owner's repeat and an admin's stay allowed, with the same events.
		for _, p := range []principal.Principal{writer, admin} {
			if rec := announce(e, body, p); rec.Code != 200 {
				t.Errorf("%s: %d %s", p.UserID, rec.Code, rec.Body)
			}
		}
		if again := pub.published()[sent:]; len(again) != 4 || again[0].EventID != pub.published()[0].EventID {
			t.Errorf("republished %+v", again)
		}
	})

	t.Run("another user cannot register under a model name that is not theirs", func(t *testing.T) {
		pub := &fakePublisher{}
		e := newEnv(t, "", withPublisher(pub))
		e.ml.addRun(runID, modelID)
		registered(t, e.register(t, registerBody(nil), writer, ""))
		sent := len(pub.published())
		e.ml.resetCalls()
		pendingBefore := len(pendingRecords(t, e.store))
		for _, key := range []string{"", "intruder-key"} {
			rec := e.register(t, registerBody(map[string]any{"model_name": "HOKUSAI-msg-ai", "tags": map[string]string{"x": "y"}}), other, key)
			refused(t, rec, "MODEL_OWNED_BY_ANOTHER_USER")
			refused(t, e.register(t, registerBody(nil), other, key), "MODEL_OWNED_BY_ANOTHER_USER")
		}
		if w := mlflowWrites(e.ml.callCounts()); len(w) != 0 {
			t.Errorf("MLflow writes %v", w)
		}
		if n := len(e.ml.allVersions()); n != 1 || len(pub.published()) != sent || len(pendingRecords(t, e.store)) != pendingBefore {
			t.Errorf("%d versions, %d events", n, len(pub.published())-sent)
		}
		// The version the owner registered is theirs to announce, not another user's.
		v := e.ml.allVersions()[0]
		ev := jsonOf(validEvent, map[string]any{"model_name": v.Name, "version": v.Version, "token_id": "msg-ai"})
		refused(t, announce(e, ev, other), "MODEL_OWNED_BY_ANOTHER_USER")
		if rec := announce(e, ev, writer); rec.Code != 200 {
			t.Errorf("owner: %d %s", rec.Code, rec.Body)
		}
		// The refused key was released: with a name of their own the intruder registers.
		registered(t, e.register(t, registerBody(map[string]any{"token_id": "their-own"}), other, "intruder-key"))
	})

	t.Run("two users racing for a new name: exactly one registers", func(t *testing.T) {
		e := newEnv(t, "")
		e.ml.addRun(runID, modelID)
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i, p := range []principal.Principal{writer, other} {
			wg.Go(func() { codes[i] = e.register(t, registerBody(map[string]any{"token_id": "race"}), p, "").Code })
		}
		wg.Wait()
		if !(codes[0] == 201 && codes[1] == 403 || codes[0] == 403 && codes[1] == 201) || len(e.ml.allVersions()) != 1 {
			t.Errorf("answers %v, %d versions", codes, len(e.ml.allVersions()))
		}
	})
}

func TestLostCreateIsNeverRepeated(t *testing.T) {
	// The first request sends the create; MLflow commits it only after the request has given up
	// and a retry has taken the key over and searched: the retry must not create a second one.
	const timeout = 300 * time.Millisecond
	e := newEnv(t, "", withTimeout(timeout))
	e.ml.addRun(runID, modelID)
	late := e.ml.holdNextCreate()
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(late.release) }) }) // a failed test must not hold the server
	body := registerBody(nil)
	if rec := e.register(t, body, writer, "lost-1"); rec.Code != 504 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	<-late.arrived
	// Retry as told until the key can be taken over (the first request's lease runs out).
	rec := retryWhile(t, func() *httptest.ResponseRecorder { return e.register(t, body, writer, "lost-1") }, "IDEMPOTENCY_IN_PROGRESS")
	if b := decode(t, rec); rec.Code != 409 || b["error"] != "REGISTRATION_OUTCOME_UNKNOWN" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("retry before the create landed: %d %s; %d versions", rec.Code, rec.Body, len(e.ml.allVersions()))
	}
	release.Do(func() { close(late.release) })
	<-late.landed
	rec = retryWhile(t, func() *httptest.ResponseRecorder { return e.register(t, body, writer, "lost-1") },
		"IDEMPOTENCY_IN_PROGRESS", "REGISTRATION_OUTCOME_UNKNOWN")
	v := registered(t, rec)
	vs := e.ml.allVersions()
	if len(vs) != 1 || v.Version != vs[0].Version || mlflow.TagMap(vs[0].Tags)["hokusai_registration_id"] != v.RegistrationID {
		t.Errorf("answer %+v; versions %+v", v, vs)
	}
	if _, err := e.store.Get(context.Background(), v.RegistrationID); err != nil {
		t.Error(err)
	}
}

// retryWhile repeats call as a client following Retry-After would, while it answers 409 with one
// of codes, and returns the first other answer.
func retryWhile(t *testing.T, call func() *httptest.ResponseRecorder, codes ...string) *httptest.ResponseRecorder {
	t.Helper()
	for range 600 {
		rec := call()
		if rec.Code != 409 || !strings.Contains(strings.Join(codes, " "), decode(t, rec)["error"].(string)) {
			return rec
		}
		time.Sleep(50 * time.Millisecond) // a shortened Retry-After
	}
	t.Fatal("still 409 after 600 retries")
	return nil
}
