package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
)

// sdkFlow is what testdata/clients/sdk_registration_client.py observed.
type sdkFlow struct {
	Version     string            `json:"version"`
	Tags        map[string]string `json:"tags"`
	CreateError struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	} `json:"create_error"`
	Announcement struct {
		Status int             `json:"status"`
		Answer json.RawMessage `json:"answer"`
	} `json:"announcement"`
}

func runSDKFlow(t *testing.T, trackingURI, runID, name, token string, env ...string) sdkFlow {
	t.Helper()
	var f sdkFlow
	mlflowtest.RunScript(t, "sdk_registration_client.py", trackingURI, env, &f, "register", runID, name, token)
	return f
}

// The Hokusai SDK's register_tokenized_model, unchanged, through the gateway (issue 12, item 1):
// its model-versions/create names a runs:/ source and no ids, which MLflow 3 refuses; the proxy
// completes it, so the version loads, carries every Hokusai tag, and its announcement's events
// reach subscribers.
func TestHokusaiSDKRegistration(t *testing.T) {
	writer, _ := registrationKeys(t)
	logged := logThroughGateway(t, writer)
	key := "MLFLOW_TRACKING_TOKEN=" + writer

	t.Run("against MLflow directly, MLflow 3 refuses the SDK's create", func(t *testing.T) {
		name := "hokusai-direct-" + uniqueToken("sdk")
		f := runSDKFlow(t, h.MLflowURL, logged.RunID, name, uniqueToken("sdk"))
		if f.CreateError.ErrorCode != "INVALID_PARAMETER_VALUE" || f.Version != "" {
			t.Errorf("direct: %+v", f)
		}
	})

	for _, mount := range []string{"/mlflow", "/api/mlflow"} { // the SDK's default tracking URI, and the README's
		t.Run("through the gateway at "+mount, func(t *testing.T) {
			token := uniqueToken("sdk")
			name := "hokusai-" + strings.ToUpper(token)
			tracking := h.APIURL + mount
			f := runSDKFlow(t, tracking, logged.RunID, name, token, key, "E2E_API_URL="+h.APIURL)
			if f.Version != "1" {
				t.Fatalf("the SDK's flow: %+v", f)
			}

			mv := mlflowtest.GetVersion(t, tracking, name, f.Version, key)
			if mv.Source != "models:/"+logged.ModelID || mv.RunID != logged.RunID {
				t.Errorf("version %+v, want the logged model %s of run %s", mv, logged.ModelID, logged.RunID)
			}
			for k, v := range f.Tags {
				if mv.Tags[k] != v {
					t.Errorf("tag %s = %q, the SDK set %q", k, mv.Tags[k], v)
				}
			}
			if len(f.Tags) < 8 {
				t.Errorf("the SDK set only %v", f.Tags)
			}
			if p := mlflowtest.Predict(t, tracking, name, f.Version, key); p != 42 {
				t.Errorf("models:/%s/%s predicts %v, want 42", name, f.Version, p)
			}

			var answer registration.EventEmitted
			if f.Announcement.Status != 200 || json.Unmarshal(f.Announcement.Answer, &answer) != nil || !answer.EventEmitted {
				t.Fatalf("announcement: %d %s", f.Announcement.Status, f.Announcement.Answer)
			}
			res, b := call(t, "GET", "/api/registrations/"+registration.AnnouncementID(answer.ModelID), nil, bearer(writer))
			if res.StatusCode != 200 {
				t.Fatalf("the announced registration: %d %s", res.StatusCode, b)
			}
			_, ids := registrationEvents(t, b)
			if len(ids) == 0 {
				t.Fatalf("the announcement lists no events: %s", b)
			}
			want := map[string]bool{}
			for _, id := range ids {
				want[id] = true
			}
			got := drain(t, subscriberQueue(t, h), want, time.Now().Add(time.Minute))
			for id := range want {
				if ev := got[id][0]; ev.Detail.ModelName != name || ev.Detail.ModelVersion != f.Version {
					t.Errorf("event %s is of %s/%s", id, ev.Detail.ModelName, ev.Detail.ModelVersion)
				}
			}
		})
	}
}
