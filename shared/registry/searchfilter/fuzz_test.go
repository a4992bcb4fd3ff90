package searchfilter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

// FuzzSearchRequest: whatever a client sends, the filter answers without panicking; MLflow is
// never sent a gateway token, nor a search of an unreadable experiment (nobody: only "1" is
// readable), and an answer's results are all readable.
func FuzzSearchRequest(f *testing.F) {
	f.Add("SearchRuns", "POST", "", `{"experiment_ids":["1","2"],"max_results":2}`)
	f.Add("SearchRuns", "POST", "", `{"experimentIds":["2"],"page_token":"hkp1.x"}`)
	f.Add("SearchTracesV3", "POST", "", `{"locations":[{"mlflow_experiment":{"experiment_id":"2"}},{"mlflowExperiment":{"experimentId":"1"}}]}`)
	f.Add("SearchTraces", "GET", "experiment_ids=1&experiment_ids=2&max_results=1", "")
	f.Add("SearchTraces", "GET", "experiment_%69ds=2&experiment_ids=1", "")
	f.Add("SearchExperiments", "GET", "max_results=3&page_token="+position{"SearchExperiments", "abc", 1, 3}.encode(), "")
	f.Add("SearchModelVersions", "GET", "filter=name%3D%27a%27&max_results=+1", "")
	f.Add("GetLatestVersions", "POST", "", `"{\"name\":\"m\"}"`)
	f.Fuzz(func(t *testing.T, operation, method, query, body string) {
		if _, ok := searches[operation]; !ok {
			operation = "SearchRuns"
		}
		s := searches[operation]
		fetch := func(_ context.Context, q string, b []byte) (Answer, error) {
			sent := q + " " + string(b)
			r, err := parseRequest(method, q, b)
			if err != nil {
				t.Fatalf("the filter sent a request it cannot read: %s", sent)
			}
			if tok, _ := r.str(fPageToken); isGatewayToken(tok) {
				t.Fatalf("MLflow was sent a gateway token: %s", sent)
			}
			if ids, err := r.strs(fExperimentIDs); err == nil && s.scope == experimentIDs {
				for _, id := range ids {
					if id != "1" {
						t.Fatalf("MLflow was asked about experiment %q: %s", id, sent)
					}
				}
			}
			// A page of one readable and one unreadable result, with a next page.
			item := func(id string) map[string]any {
				return map[string]any{"experiment_id": id, "name": id, "info": map[string]any{"experiment_id": id},
					"trace_location": map[string]any{"mlflow_experiment": map[string]any{"experiment_id": id}}}
			}
			page, _ := json.Marshal(map[string]any{s.list: []any{item("1"), item("2")}, "next_page_token": "next"})
			return Answer{Status: 200, Header: http.Header{}, Body: page}, nil
		}
		a, handled, err := New(nobody{}).Serve(context.Background(), Request{Operation: operation, Method: method, RawQuery: query, Body: []byte(body)}, fetch)
		var e *Error
		if err != nil {
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !handled {
			t.Fatal("a search of a caller who cannot read everything was relayed unfiltered")
		}
		var top map[string][]map[string]any
		_ = json.Unmarshal(a.Body, &top)
		for _, it := range top[s.list] {
			if it["name"] != "1" {
				t.Fatalf("an unreadable result was answered: %s", a.Body)
			}
		}
	})
}
