package permissionsapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// FuzzRequestDecoding: whatever body or query a grant, get or delete is sent, the answer is JSON
// in MLflow's shape; a refusal changes nothing, and an accepted write stores only valid grants.
func FuzzRequestDecoding(f *testing.F) {
	f.Add("POST", "", `{"username":"carol","resource_type":"experiment","resource_id":"1","permission":"READ"}`)
	f.Add("POST", "", `{"username":"carol","resource_type":"registered_model","resource_id":"hokusai-XRAY*","permission":"EDIT"}`)
	f.Add("POST", "", `{"username":NaN}`)
	f.Add("POST", "", `{"username":"a","username":"b"}`)
	f.Add("POST", "a=b", `[]`)
	f.Add("GET", "username=carol&resource_type=experiment&resource_id=1", "")
	f.Add("GET", "username=%zz", "")
	f.Add("DELETE", "experiment_id=2&username=bob", "")
	f.Add("DELETE", "", `{"experiment_id":"2","username":"bob"}`)
	f.Add("PATCH", "", "{\"name\":\"fraud\",\"username\":\"bob\",\"permission\":\"MANAGE\"}")
	f.Fuzz(func(t *testing.T, method, query, body string) {
		switch method {
		case "GET", "POST", "PATCH", "DELETE":
		default:
			return
		}
		op := map[string]string{"GET": "GetUserPermission", "POST": "GrantUserPermission", "PATCH": "UpdateRegisteredModelPermission", "DELETE": "DeleteExperimentPermission"}[method]
		s := newStore()
		h := newHandler(s)
		r := requestAs(t, &root, method, "", body)
		r.URL.RawQuery = query // raw, as no API Gateway would re-encode it
		hnd, _ := h.Operation(op)
		rec := httptest.NewRecorder()
		hnd.ServeHTTP(rec, r)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("not JSON: %q", rec.Body.Bytes())
		}
		if rec.Code != http.StatusOK {
			if out["error_code"] == nil || out["message"] == nil {
				t.Fatalf("%d without MLflow's shape: %v", rec.Code, out)
			}
			if msg := out["message"].(string); logging.Redacted(msg) != msg {
				t.Fatalf("message echoes a key: %q", msg)
			}
			if s.writes != 0 {
				t.Fatalf("a refused call wrote")
			}
			return
		}
		for _, g := range s.grants {
			if !g.Kind.Valid() || g.Target == "" || g.UserID == "" || g.Level.String() == "" || strings.HasPrefix(g.Level.String(), "Level(") {
				t.Fatalf("stored a bad grant %+v", g)
			}
		}
	})
}
