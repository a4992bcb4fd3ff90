package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
)

// Issue 10, items 1 and 4: another user's key can neither re-announce, nor register under, nor
// claim for their own token a version its owner registered; nothing changes, no event goes out.
func TestRegistrationsBelongToTheirUser(t *testing.T) {
	admin := adminKey(t)
	ownerID, intruderID := uniqueToken("e2e-owner"), uniqueToken("e2e-intruder")
	owner, ownerKeyID := createKey(t, admin, ownerID, "model:write", "mlflow:write")
	intruder, _ := createKey(t, admin, intruderID, "model:write", "mlflow:write")
	logged := logThroughGateway(t, owner)
	token := strings.ToUpper(uniqueToken("own"))
	name := "hokusai-" + token
	tracking := h.APIURL + "/api/mlflow"

	res, b := postRegister(t, owner, registerBody(token, logged.RunID, nil), "")
	if res.StatusCode != 201 {
		t.Fatalf("owner's registration: %d %s", res.StatusCode, b)
	}
	event := func(tok string, extra map[string]any) []byte {
		m := map[string]any{"model_name": name, "version": "1", "token_id": tok, "metric_name": "reply_rate",
			"baseline_value": 0.1342, "mlflow_run_id": logged.RunID, "tags": map[string]string{"hokusai_token_id": tok}}
		maps.Copy(m, extra)
		out, _ := json.Marshal(m)
		return out
	}
	announce := func(key string, body []byte) (*http.Response, []byte) {
		return call(t, "POST", "/api/models/tokenized-registration-events", bytes.NewReader(body), bearer(key))
	}
	if res, b := announce(owner, event(token, nil)); res.StatusCode != 200 {
		t.Fatalf("owner's announcement: %d %s", res.StatusCode, b)
	}
	modelID := name + "/1/" + token
	announcementID := registration.AnnouncementID(modelID)
	before := mlflowtest.GetVersion(t, tracking, name, "1", "MLFLOW_TRACKING_TOKEN="+owner)

	for _, tc := range []struct {
		name         string
		do           func() (*http.Response, []byte)
		status       int
		code, detail string
	}{
		{"re-announce with other values", func() (*http.Response, []byte) {
			return announce(intruder, event(token, map[string]any{"current_value": 0.99, "eval_spec": "forged"}))
		}, 403, "MODEL_VERSION_OWNED_BY_ANOTHER_USER", ""},
		{"claim the version for their own token", func() (*http.Response, []byte) {
			return announce(intruder, event("THEIRS", map[string]any{"eval_spec": "forged"}))
		}, 403, "MODEL_OWNED_BY_ANOTHER_USER", ""},
		{"register under the owner's model name", func() (*http.Response, []byte) {
			return postRegister(t, intruder, registerBody(token, logged.RunID, map[string]any{"model_name": strings.ToLower(name)}), "intrude-"+token)
		}, 403, "MODEL_OWNED_BY_ANOTHER_USER", ""},
		{"a reserved tag with a leading space", func() (*http.Response, []byte) {
			return postRegister(t, intruder, registerBody("THEIRS-"+token, logged.RunID, map[string]any{"tags": map[string]string{" hokusai_token_id": token}}), "")
		}, 422, "VALIDATION_ERROR", "tags. hokusai_token_id"},
		{"an mlflow tag in capitals, announced", func() (*http.Response, []byte) {
			return announce(owner, event(token, map[string]any{"tags": map[string]string{"MLflow.source": "x"}}))
		}, 422, "VALIDATION_ERROR", "tags.MLflow.source"},
		// The registry's values win over a client's copies of its tags.
		{"a registry tag with another value, announced", func() (*http.Response, []byte) {
			return announce(owner, event(token, map[string]any{"tags": map[string]string{"hokusai_token_id": "OTHER"}}))
		}, 422, "VALIDATION_ERROR", `"tags.hokusai_token_id"`},
		{"the owner's user_id copied by another user, announced", func() (*http.Response, []byte) {
			return announce(intruder, event(token, map[string]any{"tags": map[string]string{"hokusai_token_id": token, "user_id": ownerID}}))
		}, 422, "VALIDATION_ERROR", `"tags.user_id"`},
		{"a registry tag with another value, registered", func() (*http.Response, []byte) {
			return postRegister(t, owner, registerBody(token, logged.RunID, map[string]any{"tags": map[string]string{"hokusai_token_id": "OTHER"}}), "")
		}, 422, "VALIDATION_ERROR", `"tags.hokusai_token_id"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, b := tc.do()
			if out := jsonBody(t, b); res.StatusCode != tc.status || out["error"] != tc.code || !strings.Contains(string(b), tc.detail) {
				t.Errorf("%d %s", res.StatusCode, b)
			}
		})
	}

	t.Run("nothing changed", func(t *testing.T) {
		after := mlflowtest.GetVersion(t, tracking, name, "1", "MLFLOW_TRACKING_TOKEN="+owner)
		if fmt.Sprint(after.Tags) != fmt.Sprint(before.Tags) {
			t.Errorf("tags %v, were %v", after.Tags, before.Tags)
		}
		if vs := versionsOf(t, name); len(vs) != 1 {
			t.Errorf("versions %v", vs)
		}
		res, b := call(t, "GET", "/api/registrations/"+announcementID, nil, bearer(owner))
		if res.StatusCode != 200 || !strings.Contains(string(b), modelID) {
			t.Errorf("owner's GET: %d %s", res.StatusCode, b)
		}
	})

	t.Run("no event of the intruder reached the subscriber", func(t *testing.T) {
		// The owner's repeat publishes the same events again; everything queued before it is read too.
		if res, b := announce(owner, event(token, nil)); res.StatusCode != 200 {
			t.Fatalf("owner's repeat: %d %s", res.StatusCode, b)
		}
		marker := events.EventID(events.ModelRegistered, modelID, logged.RunID, "1")
		got := drain(t, subscriberQueue(t, h), map[string]bool{marker: true}, time.Now().Add(time.Minute))
		for id, evs := range got {
			for _, ev := range evs {
				if ev.Detail.UserID == intruderID || strings.Contains(string(ev.raw), "forged") {
					t.Errorf("event %s from the intruder: %s", id, ev.raw)
				}
			}
		}
		for _, ev := range got[marker] {
			if ev.Detail.UserID != ownerID {
				t.Errorf("marker event of %s", ev.Detail.UserID)
			}
		}
	})

	t.Run("an admin's re-announcement stays the owner's", func(t *testing.T) {
		res, b := announce(admin, event(token, map[string]any{"eval_spec": "by-admin"}))
		if res.StatusCode != 200 {
			t.Fatalf("admin: %d %s", res.StatusCode, b)
		}
		if res, b := call(t, "GET", "/api/registrations/"+announcementID, nil, bearer(owner)); res.StatusCode != 200 || !strings.Contains(string(b), modelID) {
			t.Errorf("owner's GET after the admin's announcement: %d %s", res.StatusCode, b)
		}
		// Every copy of the event read until the admin's (eval_spec by-admin) is the owner's.
		marker := events.EventID(events.ModelRegistered, modelID, logged.RunID, "1")
		deadline := time.Now().Add(time.Minute)
		for seen := false; !seen; {
			for _, ev := range drain(t, subscriberQueue(t, h), map[string]bool{marker: true}, deadline)[marker] {
				if ev.Detail.UserID != ownerID || ev.Detail.KeyID != ownerKeyID || ev.Detail.Tags["user_id"] != ownerID {
					t.Errorf("event of user %q key %q (tags %v), want the owner's %q %q", ev.Detail.UserID, ev.Detail.KeyID, ev.Detail.Tags, ownerID, ownerKeyID)
				}
				seen = seen || ev.Detail.EvalSpec != nil && *ev.Detail.EvalSpec == "by-admin"
			}
		}
	})
}

// Issue 10, item 1: the SDK registers a version with the stock MLflow client through the gateway
// and announces it afterwards. Between the two, another user's key cannot announce the new
// version and so own it: the proxy recorded its creator as owner when MLflow created it.
func TestStockClientCreatesAreTheirCreatorsBeforeTheAnnouncement(t *testing.T) {
	admin := adminKey(t)
	ownerID, intruderID := uniqueToken("e2e-creator"), uniqueToken("e2e-racer")
	owner, _ := createKey(t, admin, ownerID, "model:write", "mlflow:write")
	intruder, _ := createKey(t, admin, intruderID, "model:write", "mlflow:write")
	tracking := h.APIURL + "/api/mlflow"
	logged := logThroughGateway(t, owner)
	token := strings.ToUpper(uniqueToken("stock"))
	name := "hokusai-" + token
	// registered-models/create, then model-versions/create, as the SDK does.
	created := mlflowtest.RegisterModel(t, tracking, logged.RunID, name, "MLFLOW_TRACKING_TOKEN="+owner)
	if created.Version != "1" {
		t.Fatalf("version %q", created.Version)
	}
	event := func(tok string) []byte {
		out, _ := json.Marshal(map[string]any{"model_name": name, "version": "1", "token_id": tok, "metric_name": "reply_rate",
			"baseline_value": 0.1342, "mlflow_run_id": logged.RunID, "tags": map[string]string{"hokusai_token_id": tok}})
		return out
	}
	announce := func(key string, body []byte) (*http.Response, []byte) {
		return call(t, "POST", "/api/models/tokenized-registration-events", bytes.NewReader(body), bearer(key))
	}
	before := mlflowtest.GetVersion(t, tracking, name, "1", "MLFLOW_TRACKING_TOKEN="+owner)
	theirs := "RACER-" + token
	for _, tok := range []string{token, theirs} {
		res, b := announce(intruder, event(tok))
		if code := jsonBody(t, b)["error"]; res.StatusCode != 403 ||
			(code != registration.CodeVersionOwned && code != registration.CodeModelOwned) {
			t.Errorf("another user's announcement with token %s: %d %s, want 403 owned by another user", tok, res.StatusCode, b)
		}
	}
	if after := mlflowtest.GetVersion(t, tracking, name, "1", "MLFLOW_TRACKING_TOKEN="+owner); fmt.Sprint(after.Tags) != fmt.Sprint(before.Tags) {
		t.Errorf("tags %v, were %v", after.Tags, before.Tags)
	}
	for _, tok := range []string{token, theirs} {
		id := registration.AnnouncementID(name + "/1/" + tok)
		if res, b := call(t, "GET", "/api/registrations/"+id, nil, bearer(intruder)); res.StatusCode != 404 {
			t.Errorf("a record of the refused announcement: %d %s", res.StatusCode, b)
		}
	}

	res, b := announce(owner, event(token))
	if res.StatusCode != 200 {
		t.Fatalf("the creator's own announcement: %d %s", res.StatusCode, b)
	}
	modelID := name + "/1/" + token
	marker := events.EventID(events.ModelRegistered, modelID, logged.RunID, "1")
	got := drain(t, subscriberQueue(t, h), map[string]bool{marker: true}, time.Now().Add(time.Minute))
	for id, evs := range got {
		for _, ev := range evs {
			if ev.Detail.UserID == intruderID || ev.Detail.ModelID == name+"/1/"+theirs {
				t.Errorf("event %s of the refused announcement: %s", id, ev.raw)
			}
		}
	}
	for _, ev := range got[marker] {
		if ev.Detail.UserID != ownerID {
			t.Errorf("the creator's event carries user %q", ev.Detail.UserID)
		}
	}
}
