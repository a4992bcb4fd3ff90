package permissionsapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// TestUglyRequests: every malformed request is 400 INVALID_PARAMETER_VALUE (413 for an oversized
// body) with a message, and changes nothing.
func TestUglyRequests(t *testing.T) {
	good := `"username":"carol","resource_type":"experiment","resource_id":"1","permission":"READ"`
	key := "hk_live_" + strings.Repeat("A1b2", 8)
	for _, tc := range []struct {
		name, method, query, body string
		op                        string
		status                    int
		want                      string // in the message
	}{
		{name: "no body", method: "POST", want: "empty"},
		{name: "not JSON", method: "POST", body: `username=carol`, want: "not valid JSON"},
		{name: "an array", method: "POST", body: `[{` + good + `}]`, want: "JSON object"},
		{name: "null", method: "POST", body: `null`, want: "JSON object"},
		{name: "a string", method: "POST", body: `"x"`, want: "JSON object"},
		{name: "two values", method: "POST", body: `{` + good + `}{}`, want: "after its JSON value"},
		{name: "truncated", method: "POST", body: `{` + good, want: "not valid JSON"},
		{name: "a number", method: "POST", body: `{"username":"carol","resource_type":"experiment","resource_id":1,"permission":"READ"}`, want: "'resource_id' must be a string"},
		{name: "NaN", method: "POST", body: `{"username":NaN,"resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "'username' must be a string"},
		{name: "an object", method: "POST", body: `{"username":{"id":"carol"},"resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "must be a string"},
		{name: "null member", method: "POST", body: `{"username":null,"resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "must be a string"},
		{name: "a boolean", method: "POST", body: `{"username":"carol","resource_type":"experiment","resource_id":"1","permission":true}`, want: "must be a string"},
		{name: "empty", method: "POST", body: `{"username":"","resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "must not be empty"},
		{name: "missing", method: "POST", body: `{"username":"carol","resource_type":"experiment","resource_id":"1"}`, want: "'permission'"},
		{name: "unknown member", method: "POST", body: `{` + good + `,"workspace":"w"}`, want: "Unknown parameter(s) 'workspace'"},
		{name: "a case variant", method: "POST", body: `{"Username":"carol","resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "'Username'"},
		{name: "a key as a member name is not echoed", method: "POST", body: `{` + good + `,"` + key + `":"x"}`, want: "Unknown parameter"},
		{name: "the query on a POST", method: "POST", query: "username=carol", body: `{` + good + `}`, want: "JSON body"},
		{name: "too large", method: "POST", body: `{` + good + `,"pad":"` + strings.Repeat("x", 20<<10) + `"}`, status: 413, want: "16 KiB"},
		{name: "a control character", method: "POST", body: `{"username":"car\u0000ol","resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "Hokusai user id"},
		{name: "a bidi override", method: "POST", body: `{"username":"carol\u202e","resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "Hokusai user id"},
		{name: "padded user", method: "POST", body: `{"username":" carol","resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "Hokusai user id"},
		{name: "long user", method: "POST", body: `{"username":"` + strings.Repeat("u", 300) + `","resource_type":"experiment","resource_id":"1","permission":"READ"}`, want: "at most 256"},
		{name: "padded level", method: "POST", body: `{"username":"carol","resource_type":"experiment","resource_id":"1","permission":"READ "}`, want: "Invalid permission"},
		{name: "padded name", op: "GrantUserPermission", method: "POST", body: `{"username":"carol","resource_type":"registered_model","resource_id":"fraud ","permission":"READ"}`, want: "registered model name"},
		{name: "a name too long", method: "POST", body: `{"username":"carol","resource_type":"registered_model","resource_id":"` + strings.Repeat("m", 300) + `","permission":"READ"}`, want: "longer than"},
		{name: "a newline in a name", method: "POST", body: `{"username":"carol","resource_type":"registered_model","resource_id":"a\nb","permission":"READ"}`, want: "unprintable"},
		{name: "an experiment pattern of letters", method: "POST", body: `{"username":"carol","resource_type":"experiment","resource_id":"a*","permission":"READ"}`, want: "experiment id"},
		{name: "resource type case", method: "POST", body: `{"username":"carol","resource_type":"Experiment","resource_id":"1","permission":"READ"}`, want: "not supported"},
		{name: "workspace type", method: "POST", body: `{"username":"carol","resource_type":"workspace","resource_id":"*","permission":"USE"}`, want: "not supported"},
		// GETs.
		{name: "repeated query", op: "GetUserPermission", method: "GET", query: "username=carol&username=bob&resource_type=experiment&resource_id=1", want: "given 2 times"},
		{name: "unknown query", op: "GetUserPermission", method: "GET", query: "username=carol&resource_type=experiment&resource_id=1&x=1", want: "'x'"},
		{name: "empty query value", op: "GetUserPermission", method: "GET", query: "username=&resource_type=experiment&resource_id=1", want: "must not be empty"},
		{name: "missing query", op: "GetUserPermission", method: "GET", query: "username=carol", want: "'resource_type'"},
		{name: "list takes a username", op: "ListUserPermissions", method: "GET", want: "'username'"},
		{name: "current takes nothing", op: "ListCurrentUserPermissions", method: "GET", query: "username=carol", want: "'username'"},
		// A DELETE with a JSON body reads it; without, the query.
		{name: "delete, unknown member", op: "DeleteExperimentPermission", method: "DELETE", body: `{"experiment_id":"1","username":"carol","permission":"READ"}`, want: "'permission'"},
		{name: "delete, nothing", op: "DeleteExperimentPermission", method: "DELETE", want: "'experiment_id'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore()
			before := slices.Clone(s.grants)
			op := tc.op
			if op == "" {
				op = "GrantUserPermission"
			}
			st, out := call(t, newHandler(s), op, &root, tc.method, tc.query, tc.body)
			want := tc.status
			if want == 0 {
				want = 400
			}
			msg, _ := out["message"].(string)
			if st != want || out["error_code"] != "INVALID_PARAMETER_VALUE" || !strings.Contains(msg, tc.want) {
				t.Errorf("%d %v, want %d INVALID_PARAMETER_VALUE about %q", st, out, want, tc.want)
			}
			if strings.Contains(msg, key) || logging.Redacted(msg) != msg {
				t.Errorf("the message echoes a key: %q", msg)
			}
			if s.writes != 0 || !slices.Equal(before, s.grants) {
				t.Errorf("a bad request changed the store")
			}
		})
	}
}

// TestDeleteReadsTheQueryWithoutABody: MLflow reads a DELETE's parameters from the query when it
// has no JSON body.
func TestDeleteReadsTheQueryWithoutABody(t *testing.T) {
	s := newStore()
	st, out := call(t, newHandler(s), "DeleteExperimentPermission", &root, "DELETE", "experiment_id=2&username=bob", "")
	if st != 200 {
		t.Fatalf("%d %v", st, out)
	}
	if _, ok := s.level("bob", permissions.Experiment, "2"); ok {
		t.Error("not deleted")
	}
}
