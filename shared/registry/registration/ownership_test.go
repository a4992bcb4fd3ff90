package registration_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules/rulestest"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
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
		e.sdkVersion(t, writer, "hokusai-HLEAD", "7", runID)
		body := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"eval_spec": "e1"})
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
			{"the same announcement, other metric values", rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"eval_spec": "forged", "current_value": 0.9}), "MODEL_VERSION_OWNED_BY_ANOTHER_USER"},
			{"the version claimed for another token", rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"token_id": "MINE", "eval_spec": "forged", "tags": map[string]string{"hokusai_token_id": "MINE"}}), "MODEL_OWNED_BY_ANOTHER_USER"},
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
		ev := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"model_name": v.Name, "version": v.Version, "token_id": "msg-ai",
			"tags": map[string]string{"hokusai_token_id": "msg-ai"}})
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

// An admin may act on another user's registration, and it stays the owner's: the record keeps
// the owner's user and key (the admin is recorded as the actor), GET still shows it to its owner,
// and the events go out again under the same ids with the owner's user_id and key_id.
func TestAdminActsForTheOwner(t *testing.T) {
	const path = "/api/models/tokenized-registration-events"
	pub := &fakePublisher{}
	e := newEnv(t, "", withPublisher(pub))
	e.ml.addRun(runID, modelID)
	e.sdkVersion(t, writer, "hokusai-HLEAD", "7", runID)
	announce := func(body []byte, p principal.Principal) *httptest.ResponseRecorder {
		t.Helper()
		return e.call(t, context.Background(), "POST", path, body, p, nil)
	}
	body := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"eval_spec": "e1"})
	if rec := announce(body, writer); rec.Code != 200 {
		t.Fatalf("owner: %d %s", rec.Code, rec.Body)
	}
	id := registration.AnnouncementID("hokusai-HLEAD/7/HLEAD")
	first := pub.published()

	if rec := announce(rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"eval_spec": "e2"}), admin); rec.Code != 200 {
		t.Fatalf("admin: %d %s", rec.Code, rec.Body)
	}
	stored, err := e.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if stored.UserID != writer.UserID || stored.KeyID != writer.KeyID || stored.ActorUserID != admin.UserID || stored.ActorKeyID != admin.KeyID {
		t.Errorf("record of user %q key %q, actor %q %q", stored.UserID, stored.KeyID, stored.ActorUserID, stored.ActorKeyID)
	}
	if rec := e.call(t, context.Background(), "GET", "/api/registrations/"+id, nil, writer, nil); rec.Code != 200 {
		t.Errorf("owner's GET after the admin's announcement: %d %s", rec.Code, rec.Body)
	}
	again := pub.published()[len(first):]
	if len(again) != len(first) {
		t.Fatalf("republished %d events, first %d", len(again), len(first))
	}
	for i, ev := range again {
		var d events.Detail
		if err := json.Unmarshal([]byte(ev.Detail), &d); err != nil {
			t.Fatal(err)
		}
		if ev.EventID != first[i].EventID || d.UserID != writer.UserID || d.KeyID != writer.KeyID || d.Tags["user_id"] != writer.UserID ||
			d.EvalSpec == nil || *d.EvalSpec != "e2" {
			t.Errorf("event %d: id %s (first %s), detail %s", i, ev.EventID, first[i].EventID, ev.Detail)
		}
	}

	t.Run("a version of the owner's model nobody announced yet is claimed for the owner", func(t *testing.T) {
		e.ml.addVersion("hokusai-HLEAD", "8", runID)
		v8 := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"version": "8", "model_uri": "models:/hokusai-HLEAD/8"})
		if rec := announce(v8, admin); rec.Code != 200 {
			t.Fatalf("admin: %d %s", rec.Code, rec.Body)
		}
		stored, err := e.store.Get(context.Background(), registration.AnnouncementID("hokusai-HLEAD/8/HLEAD"))
		if err != nil || stored.UserID != writer.UserID || stored.KeyID != "" || stored.ActorUserID != admin.UserID {
			t.Fatalf("record %+v %v", stored, err)
		}
		if rec := announce(v8, writer); rec.Code != 200 {
			t.Errorf("the owner's own announcement after the admin's: %d %s", rec.Code, rec.Body)
		}
		if rec := announce(v8, other); rec.Code != 403 {
			t.Errorf("another user: %d %s", rec.Code, rec.Body)
		}
	})

	t.Run("the admin's copy of user_id must be the owner's", func(t *testing.T) {
		sent := len(pub.published())
		forged := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"tags": map[string]string{"hokusai_token_id": "HLEAD", "user_id": admin.UserID}})
		if rec := announce(forged, admin); rec.Code != 422 || !strings.Contains(rec.Body.String(), "tags.user_id") {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
		if len(pub.published()) != sent {
			t.Error("events published for a refused announcement")
		}
		owners := rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"tags": map[string]string{"hokusai_token_id": "HLEAD", "user_id": writer.UserID}})
		if rec := announce(owners, admin); rec.Code != 200 {
			t.Errorf("%d %s", rec.Code, rec.Body)
		}
	})
}

// The registry's values win over a client's copies of its tags on the announce route: a copy is
// accepted only when it equals what the registry writes (and the events carry the registry's
// spelling); any other value is a 422 naming the tag that changes nothing. The register route
// takes no copy at all (SPEC 5.1: the registry writes them in the create).
func TestSystemTagsTakeTheRegistrysValues(t *testing.T) {
	const path = "/api/models/tokenized-registration-events"
	pub := &fakePublisher{}
	e := newEnv(t, "", withPublisher(pub))
	e.ml.addRun(runID, modelID)
	e.ml.addVersion("hokusai-HLEAD", "7", runID)
	id := registration.AnnouncementID("hokusai-HLEAD/7/HLEAD")
	withTags := func(tags map[string]string, more map[string]any) []byte {
		changes := map[string]any{"tags": tags}
		maps.Copy(changes, more)
		return rulestest.JSONOf(rulestest.ValidEvent, changes)
	}
	refused := []struct {
		name string
		body []byte
		tag  string
	}{
		{"another token", withTags(map[string]string{"hokusai_token_id": "OTHER"}, nil), "hokusai_token_id"},
		{"another metric", withTags(map[string]string{"benchmark_metric": "accuracy"}, nil), "benchmark_metric"},
		{"another value", withTags(map[string]string{"benchmark_value": "0.2"}, nil), "benchmark_value"},
		{"a value that is no number", withTags(map[string]string{"benchmark_value": "high"}, nil), "benchmark_value"},
		{"another status", withTags(map[string]string{"hokusai_status": "deployed"}, nil), "hokusai_status"},
		{"another proposal", withTags(map[string]string{"hokusai_proposal_identifier": "P-9"}, nil), "hokusai_proposal_identifier"},
		{"another registration", withTags(map[string]string{"hokusai_registration_id": "0b7c2f5e-0000-5000-8000-000000000000"}, nil), "hokusai_registration_id"},
		{"another run", withTags(map[string]string{"mlflow_run_id": "ffff"}, map[string]any{"mlflow_run_id": rulestest.Absent}), "mlflow_run_id"},
		{"another user", withTags(map[string]string{"user_id": other.UserID}, nil), "user_id"},
		{"metadata the registry has no value for", withTags(map[string]string{"hokusai.eval_spec": "e9"}, nil), "hokusai.eval_spec"},
		{"metadata other than the field", withTags(map[string]string{"hokusai.eval_spec": "e9"}, map[string]any{"eval_spec": "e1"}), "hokusai.eval_spec"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			e.ml.resetCalls()
			rec := e.call(t, context.Background(), "POST", path, tc.body, writer, nil)
			if body := decode(t, rec); rec.Code != 422 || body["error"] != "VALIDATION_ERROR" || !strings.Contains(rec.Body.String(), `"tags.`+tc.tag+`"`) {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
			if w := mlflowWrites(e.ml.callCounts()); len(w) != 0 {
				t.Errorf("MLflow writes %v", w)
			}
		})
	}
	if _, err := e.store.Get(context.Background(), id); err == nil || len(pub.published()) != 0 {
		t.Fatalf("a refused announcement was recorded (%v) or published (%d events)", err, len(pub.published()))
	}
	// Nor were the name and the version claimed.
	for _, pk := range []string{regstore.ModelOwnerPK("hokusai-HLEAD"), regstore.VersionOwnerPK("hokusai-HLEAD", "7")} {
		if owner, err := e.store.OwnerOf(context.Background(), pk); owner != "" || err != nil {
			t.Fatalf("%s claimed by refused announcements: %q %v", pk, owner, err)
		}
	}

	t.Run("copies equal to the registry's pass, in its spelling", func(t *testing.T) {
		e := newEnv(t, "", withPublisher(&fakePublisher{}))
		e.ml.addRun(runID, modelID)
		e.sdkVersion(t, writer, "hokusai-HLEAD", "7", runID, mlflow.Tag{Key: "hokusai.scorer_ref", Value: "s1"})
		copies := map[string]string{
			"hokusai_token_id": "hlead", "benchmark_metric": "reply_rate", "benchmark_value": "0.13420", "hokusai_status": "registered",
			"hokusai_proposal_identifier": "HLEAD", "hokusai_registration_id": id, "mlflow_run_id": runID, "user_id": writer.UserID,
			"hokusai.eval_spec": "e1", "hokusai.scorer_ref": "s1", "team": "growth",
		}
		rec := e.call(t, context.Background(), "POST", path, withTags(copies, map[string]any{"eval_spec": "e1"}), writer, nil)
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		var d events.Detail
		if err := json.Unmarshal([]byte(e.pub.published()[0].Detail), &d); err != nil {
			t.Fatal(err)
		}
		if d.Tags["hokusai_token_id"] != "HLEAD" || d.Tags["benchmark_value"] != "0.1342" || d.Tags["team"] != "growth" ||
			d.Tags["hokusai.scorer_ref"] != "s1" || d.Tags["user_id"] != writer.UserID {
			t.Errorf("event tags %v", d.Tags)
		}
	})

	t.Run("the register route refuses every copy", func(t *testing.T) {
		for _, v := range []string{"MSG-AI", "OTHER"} {
			rec := e.register(t, registerBody(map[string]any{"tags": map[string]string{"hokusai_token_id": v}}), writer, "")
			if rec.Code != 422 || !strings.Contains(rec.Body.String(), `"tags.hokusai_token_id"`) {
				t.Errorf("%s: %d %s", v, rec.Code, rec.Body)
			}
		}
	})
}
