package mlflowproxy

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

func TestRequestIDs(t *testing.T) {
	for _, tc := range []struct {
		service          mlflowcatalog.Service
		method, endpoint string
		query, body      string
		want             []named
		wantErr          string
	}{
		// Every value of a repeated parameter is checked: get-history-bulk reads them all under a
		// singular name, and a second run must not ride on the first one's permission.
		{mlflowcatalog.Tracking, "GET", "runs/get", "run_id=r1&run_id=r2", "", []named{{idRun, "r1"}, {idRun, "r2"}}, ""},
		{mlflowcatalog.Tracking, "GET", "metrics/get-history-bulk", "run_id=r1&run_id=r2&metric_key=m", "", []named{{idRun, "r1"}, {idRun, "r2"}}, ""},
		{mlflowcatalog.Tracking, "GET", "runs/get", "run_uuid=r9", "", []named{{idRun, "r9"}}, ""},
		{mlflowcatalog.Tracking, "GET", "runs/get", "run_id=&run_uuid=r9", "", []named{{idRun, "r9"}}, ""},
		{mlflowcatalog.Tracking, "GET", "runs/get", "", "", nil, "names no resource"},
		{mlflowcatalog.Tracking, "GET", "runs/get", "run_id=%zz", "", nil, "query"},
		{mlflowcatalog.Tracking, "POST", "runs/set-tag", "", `{"run_id":"r1","run_id":"r2"}`, []named{{idRun, "r2"}}, ""},
		{mlflowcatalog.Tracking, "POST", "runs/set-tag", "", `{"runId":"r3"}`, []named{{idRun, "r3"}}, ""},
		{mlflowcatalog.Tracking, "POST", "runs/set-tag", "", `{"run_id":"r1","runId":"r2"}`, nil, "both"},
		{mlflowcatalog.Tracking, "POST", "runs/set-tag", "", `{"run_id":["r1"]}`, nil, "not a string"},
		{mlflowcatalog.Tracking, "POST", "runs/set-tag", "run_id=q", `{}`, nil, "names no resource"}, // a POST's query is not read
		{mlflowcatalog.Tracking, "POST", "registered-models/alias", "", `{"name":"M","alias":"a"}`, []named{{idModelName, "M"}}, ""},
		{mlflowcatalog.Tracking, "DELETE", "model-versions/delete-tag", "", `{"name":"M","version":"1","key":"k"}`, []named{{idModelName, "M"}}, ""},
		{mlflowcatalog.Tracking, "POST", "experiments/create", "", `{"name":"e"}`, []named{{idExperimentName, "e"}}, ""},
		{mlflowcatalog.Tracking, "GET", "logged-models/m-1", "", "", []named{{idLoggedModel, "m-1"}}, ""},
		{mlflowcatalog.Tracking, "PATCH", "traces/tr-1/tags", "", `{"key":"k"}`, []named{{idTrace, "tr-1"}}, ""},
		{mlflowcatalog.Tracking, "POST", "traces/link-to-run", "", `{"trace_ids":["a","b"],"run_id":"r"}`, []named{{idRun, "r"}}, ""},
		{mlflowcatalog.Tracking, "POST", "traces/batchGetInfos", "", `{"trace_ids":["a","b"]}`, []named{{idTrace, "a"}, {idTrace, "b"}}, ""},
		{mlflowcatalog.Tracking, "POST", "traces/batchGetInfos", "", `{"trace_ids":[` + strings.Repeat(`"a",`, maxListedIDs) + `"a"]}`, nil, "at most"},
		{mlflowcatalog.Artifacts, "PUT", "artifacts/3/r1/artifacts/a b.bin", "", "", []named{{idArtifactPath, "3/r1/artifacts/a b.bin"}}, ""},
		{mlflowcatalog.Artifacts, "GET", "artifacts", "path=4/r/artifacts", "", []named{{idArtifactPath, "4/r/artifacts"}}, ""},
	} {
		version := "2.0"
		if strings.HasPrefix(tc.endpoint, "traces/tr-") || strings.HasPrefix(tc.endpoint, "traces/batch") {
			version = "3.0"
		}
		op, ok := mlflowcatalog.Lookup(tc.service, version, tc.method, tc.endpoint)
		if !ok {
			t.Fatalf("no operation %s %s", tc.method, tc.endpoint)
		}
		r := httptest.NewRequest(tc.method, "/x?"+tc.query, nil)
		r.URL.RawQuery = tc.query
		got, err := requestIDs(op, r, tc.endpoint, []byte(tc.body))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s %s %s %s: %v %v, want error %q", tc.method, tc.endpoint, tc.query, tc.body, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s %s %s %s: %v %v, want %v", tc.method, tc.endpoint, tc.query, tc.body, got, err, tc.want)
		}
	}
}

func FuzzRequestIDs(f *testing.F) {
	for _, s := range []string{`{"run_id":"r"}`, `{"runId":"r","run_id":"s"}`, `"{\"run_id\":\"r\"}"`, "\xff\xfe{\x00}\x00", `[`, `null`} {
		f.Add(s, "run_id=a&run_uuid=b")
	}
	ops := []mlflowcatalog.Operation{}
	for _, o := range mlflowcatalog.Operations() {
		if len(o.IDs) > 0 && o.Service == mlflowcatalog.Tracking {
			ops = append(ops, o)
		}
	}
	f.Fuzz(func(t *testing.T, body, query string) {
		for _, op := range ops[:20] {
			r := httptest.NewRequest(op.Method, "/x", nil)
			r.URL.RawQuery = query
			ids, err := requestIDs(op, r, op.Endpoint, []byte(body))
			if err == nil && len(ids) == 0 {
				t.Fatalf("%s: no ids and no error", op.Name)
			}
			if len(ids) > maxListedIDs {
				t.Fatalf("%s: %d ids", op.Name, len(ids))
			}
		}
	})
}
