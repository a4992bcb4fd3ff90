package searchfilter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/searchfilter"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// hiding is a permission source that hides the resources it lists and counts its questions.
type hiding struct {
	mu       sync.Mutex
	hidden   map[permissions.Resource]bool
	readsAll bool
	asked    int
}

func (h *hiding) ReadsAll(permissions.Caller) bool { return h.readsAll }

func (h *hiding) Readable(_ context.Context, _ permissions.Caller, rs []permissions.Resource) ([]bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.asked++
	out := make([]bool, len(rs))
	for i, r := range rs {
		out[i] = !h.hidden[r]
	}
	return out, nil
}

func (h *hiding) hide(rs ...permissions.Resource) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hidden == nil {
		h.hidden = map[permissions.Resource]bool{}
	}
	for _, r := range rs {
		h.hidden[r] = true
	}
}

func exp(id string) permissions.Resource {
	return permissions.Resource{Kind: permissions.Experiment, ID: id}
}

func model(name string) permissions.Resource {
	return permissions.Resource{Kind: permissions.RegisteredModel, ID: name}
}

// mlflow calls the real MLflow; sent records every call the filter made.
type mlflow struct {
	t    *testing.T
	base string
}

type sent struct {
	query string
	body  []byte
}

func (m mlflow) call(method, path string, v any) []byte {
	m.t.Helper()
	var body io.Reader
	if v != nil {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.base+path, body)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		m.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	return b
}

// fetcher is the Fetch of one search endpoint of the real MLflow, recording each call.
func (m mlflow) fetcher(method, path string, calls *[]sent) searchfilter.Fetch {
	return func(ctx context.Context, query string, body []byte) (searchfilter.Answer, error) {
		*calls = append(*calls, sent{query, body})
		u := m.base + path
		if query != "" {
			u += "?" + query
		}
		var rd io.Reader
		if method != http.MethodGet {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return searchfilter.Answer{}, err
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return searchfilter.Answer{}, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return searchfilter.Answer{Status: res.StatusCode, Header: res.Header, Body: b}, err
	}
}

func unique(t *testing.T) string {
	return fmt.Sprintf("sf-%s-%d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"), time.Now().UnixNano())
}

// pageOf is one client page: the ids or names of its results, and its token.
type pageOf struct {
	items []string
	token string
}

func readPage(t *testing.T, a searchfilter.Answer, list, key string) pageOf {
	t.Helper()
	if a.Status != 200 {
		t.Fatalf("answer %d %s", a.Status, a.Body)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(a.Body, &top); err != nil {
		t.Fatalf("%v: %s", err, a.Body)
	}
	var items []map[string]any
	_ = json.Unmarshal(top[list], &items)
	var p pageOf
	for _, it := range items {
		v := it[key]
		if info, ok := it["info"].(map[string]any); ok && v == nil {
			v = info[key]
		}
		p.items = append(p.items, fmt.Sprint(v))
	}
	_ = json.Unmarshal(top["next_page_token"], &p.token)
	return p
}

// pageThrough reads every client page of a search and checks each against the bound.
func pageThrough(t *testing.T, f *searchfilter.Filter, req searchfilter.Request, fetch searchfilter.Fetch, calls *[]sent,
	setToken func(req *searchfilter.Request, token string), list, key string) (pages []pageOf) {
	t.Helper()
	token := ""
	for range 100 {
		r := req
		if token != "" {
			setToken(&r, token)
		}
		before := len(*calls)
		a, handled, err := f.Serve(context.Background(), r, fetch)
		if err != nil || !handled {
			t.Fatalf("page %d: handled %v, %v", len(pages), handled, err)
		}
		if n := len(*calls) - before; n > searchfilter.MaxUpstreamCalls {
			t.Fatalf("page %d made %d upstream calls", len(pages), n)
		}
		p := readPage(t, a, list, key)
		pages = append(pages, p)
		if token = p.token; token == "" {
			return pages
		}
	}
	t.Fatal("paging did not end")
	return nil
}

func all(pages []pageOf) []string {
	var out []string
	for _, p := range pages {
		out = append(out, p.items...)
	}
	return out
}

func TestExperimentSearchPagesAreFullAndComplete(t *testing.T) {
	m := mlflow{t, testenv.MLflow(t).URL}
	prefix := unique(t)
	var ids []string
	for i := range 14 {
		var created struct {
			ExperimentID string `json:"experiment_id"`
		}
		_ = json.Unmarshal(m.call("POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": fmt.Sprintf("%s-%02d", prefix, i)}), &created)
		ids = append(ids, created.ExperimentID)
	}
	// Hidden: singles, a pair, and a run longer than the bound can cross with max_results 1.
	hiddenAt := []int{1, 4, 5, 7, 8, 9, 10, 11, 12}
	perms := &hiding{}
	var want []string
	for i, id := range ids {
		if slices.Contains(hiddenAt, i) {
			perms.hide(exp(id))
		} else {
			want = append(want, id)
		}
	}
	f := searchfilter.New(perms)
	filter := fmt.Sprintf("name LIKE '%s-%%'", prefix)

	for _, method := range []string{"POST", "GET"} {
		for _, size := range []int{1, 2, 3, 5, 100} {
			t.Run(fmt.Sprintf("%s max_results %d", method, size), func(t *testing.T) {
				var calls []sent
				fetch := m.fetcher(method, "/api/2.0/mlflow/experiments/search", &calls)
				req := searchfilter.Request{Operation: "SearchExperiments", Method: method}
				body := map[string]any{"filter": filter, "max_results": size, "order_by": []string{"name ASC"}}
				encode := func(r *searchfilter.Request, token string) {
					if method == "GET" {
						r.RawQuery = fmt.Sprintf("filter=%s&max_results=%d&order_by=name+ASC", urlEscape(filter), size)
						if token != "" {
							r.RawQuery += "&page_token=" + urlEscape(token)
						}
						return
					}
					b := map[string]any{}
					for k, v := range body {
						b[k] = v
					}
					if token != "" {
						b["page_token"] = token
					}
					r.Body, _ = json.Marshal(b)
				}
				encode(&req, "")
				pages := pageThrough(t, f, req, fetch, &calls, encode, "experiments", "experiment_id")
				if got := all(pages); !slices.Equal(got, want) {
					t.Fatalf("paged through %v, want %v", got, want)
				}
				for i, p := range pages[:len(pages)-1] {
					// A page is full unless the bound cut it short (a run of hidden results
					// longer than the bound's calls can cross).
					if len(p.items) != size && !(size == 1 && len(p.items) == 0) {
						t.Errorf("page %d has %d results, want %d", i, len(p.items), size)
					}
				}
				for _, c := range calls {
					if bytes.Contains(c.body, []byte("hkp1.")) || strings.Contains(c.query, "hkp1.") {
						t.Errorf("the gateway's token reached MLflow: %q %s", c.query, c.body)
					}
				}
			})
		}
	}

	t.Run("the bound ends a page early with a token continuing exactly there", func(t *testing.T) {
		var calls []sent
		fetch := m.fetcher("POST", "/api/2.0/mlflow/experiments/search", &calls)
		// From the start with max_results 1: 00 readable, then 01 hidden, 02 03 readable, …; the
		// page after 06 meets 07–12, six hidden in a row, and stops after five calls.
		req := searchfilter.Request{Operation: "SearchExperiments", Method: "POST"}
		token := ""
		var got []string
		sawEmpty := false
		for range 50 {
			b := map[string]any{"filter": filter, "max_results": 1, "order_by": []string{"name ASC"}}
			if token != "" {
				b["page_token"] = token
			}
			req.Body, _ = json.Marshal(b)
			before := len(calls)
			a, _, err := f.Serve(context.Background(), req, fetch)
			if err != nil {
				t.Fatal(err)
			}
			p := readPage(t, a, "experiments", "experiment_id")
			if len(p.items) == 0 {
				sawEmpty = true
				if n := len(calls) - before; n != searchfilter.MaxUpstreamCalls {
					t.Errorf("an empty page made %d calls, want the bound %d", n, searchfilter.MaxUpstreamCalls)
				}
				if p.token == "" {
					t.Fatal("a page cut short by the bound has no token")
				}
			}
			got = append(got, p.items...)
			if token = p.token; token == "" {
				break
			}
		}
		if !sawEmpty {
			t.Error("no page met the bound")
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "+", "&", "%26", "'", "%27", "=", "%3D", "+", "%2B")
	return r.Replace(s)
}

func TestRegistrySearchesHideUnreadableModels(t *testing.T) {
	m := mlflow{t, testenv.MLflow(t).URL}
	prefix := unique(t)
	perms := &hiding{}
	var wantModels []string
	var wantVersions []string
	for i := range 9 {
		name := fmt.Sprintf("%s-%d", prefix, i)
		m.call("POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": name})
		for range 2 {
			m.call("POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": name, "source": "s3://bucket/m"})
		}
		if i%3 != 1 {
			wantModels = append(wantModels, name)
			wantVersions = append(wantVersions, name, name)
		} else {
			perms.hide(model(name))
		}
	}
	f := searchfilter.New(perms)
	tokenParam := func(base string) func(*searchfilter.Request, string) {
		return func(r *searchfilter.Request, token string) { r.RawQuery = base + "&page_token=" + urlEscape(token) }
	}

	t.Run("registered-models/search", func(t *testing.T) {
		var calls []sent
		q := fmt.Sprintf("filter=%s&max_results=2&order_by=name+ASC", urlEscape(fmt.Sprintf("name LIKE '%s-%%'", prefix)))
		req := searchfilter.Request{Operation: "SearchRegisteredModels", Method: "GET", RawQuery: q}
		pages := pageThrough(t, f, req, m.fetcher("GET", "/api/2.0/mlflow/registered-models/search", &calls), &calls, tokenParam(q), "registered_models", "name")
		if got := all(pages); !slices.Equal(got, wantModels) {
			t.Errorf("got %v, want %v", got, wantModels)
		}
		for i, p := range pages[:len(pages)-1] {
			if len(p.items) != 2 {
				t.Errorf("page %d: %v", i, p.items)
			}
		}
	})
	t.Run("model-versions/search", func(t *testing.T) {
		var calls []sent
		q := fmt.Sprintf("filter=%s&max_results=3&order_by=name+ASC&order_by=version_number+ASC", urlEscape(fmt.Sprintf("name LIKE '%s-%%'", prefix)))
		req := searchfilter.Request{Operation: "SearchModelVersions", Method: "GET", RawQuery: q}
		pages := pageThrough(t, f, req, m.fetcher("GET", "/api/2.0/mlflow/model-versions/search", &calls), &calls, tokenParam(q), "model_versions", "name")
		if got := all(pages); !slices.Equal(got, wantVersions) {
			t.Errorf("got %v, want %v", got, wantVersions)
		}
		for i, p := range pages[:len(pages)-1] {
			if len(p.items) != 3 {
				t.Errorf("page %d: %v", i, p.items)
			}
		}
	})
	t.Run("get-latest-versions of an unreadable model is empty", func(t *testing.T) {
		var calls []sent
		name := fmt.Sprintf("%s-1", prefix)
		req := searchfilter.Request{Operation: "GetLatestVersions", Method: "POST", Body: []byte(fmt.Sprintf(`{"name":%q}`, name))}
		a, handled, err := f.Serve(context.Background(), req, m.fetcher("POST", "/api/2.0/mlflow/registered-models/get-latest-versions", &calls))
		if err != nil || !handled || string(a.Body) != "{}" {
			t.Errorf("handled %v, %v: %s", handled, err, a.Body)
		}
	})
}

func TestExperimentScopedSearchesAreNarrowed(t *testing.T) {
	m := mlflow{t, testenv.MLflow(t).URL}
	prefix := unique(t)
	var open, closed struct {
		ExperimentID string `json:"experiment_id"`
	}
	_ = json.Unmarshal(m.call("POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": prefix + "-open"}), &open)
	_ = json.Unmarshal(m.call("POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": prefix + "-closed"}), &closed)
	var openRuns []string
	for _, e := range []string{open.ExperimentID, closed.ExperimentID, open.ExperimentID} {
		var run struct {
			Run struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"run"`
		}
		_ = json.Unmarshal(m.call("POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": e}), &run)
		if e == open.ExperimentID {
			openRuns = append(openRuns, run.Run.Info.RunID)
		}
		m.call("POST", "/api/2.0/mlflow/logged-models", map[string]any{"experiment_id": e, "name": "lm"})
	}
	perms := &hiding{}
	perms.hide(exp(closed.ExperimentID))
	f := searchfilter.New(perms)
	both := []string{open.ExperimentID, closed.ExperimentID}

	cases := []struct {
		name, operation, method, path, list string
		body, query                         string
		want                                int // results
		sentIDs                             string
	}{
		{name: "runs/search", operation: "SearchRuns", method: "POST", path: "/api/2.0/mlflow/runs/search", list: "runs",
			body: mustJSON(map[string]any{"experiment_ids": both}), want: 2},
		{name: "runs/search under the JSON name", operation: "SearchRuns", method: "POST", path: "/api/2.0/mlflow/runs/search", list: "runs",
			body: mustJSON(map[string]any{"experimentIds": both}), want: 2},
		{name: "logged-models/search", operation: "SearchLoggedModels", method: "POST", path: "/api/2.0/mlflow/logged-models/search", list: "models",
			body: mustJSON(map[string]any{"experiment_ids": both}), want: 2},
		{name: "traces/search (3.0)", operation: "SearchTracesV3", method: "POST", path: "/api/3.0/mlflow/traces/search", list: "traces",
			body: mustJSON(map[string]any{"locations": []any{
				map[string]any{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": map[string]any{"experiment_id": open.ExperimentID}},
				map[string]any{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": map[string]any{"experiment_id": closed.ExperimentID}},
			}}), want: 0},
		{name: "traces (2.0)", operation: "SearchTraces", method: "GET", path: "/api/2.0/mlflow/traces", list: "traces",
			query: "experiment_ids=" + open.ExperimentID + "&experiment_ids=" + closed.ExperimentID, want: 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls []sent
			req := searchfilter.Request{Operation: c.operation, Method: c.method, RawQuery: c.query, Body: []byte(c.body)}
			a, handled, err := f.Serve(context.Background(), req, m.fetcher(c.method, c.path, &calls))
			if err != nil || !handled || a.Status != 200 {
				t.Fatalf("handled %v, %v: %d %s", handled, err, a.Status, a.Body)
			}
			if len(calls) != 1 {
				t.Fatalf("%d upstream calls", len(calls))
			}
			outbound := calls[0].query + string(calls[0].body)
			if strings.Contains(outbound, `"`+closed.ExperimentID+`"`) || strings.Contains(outbound, "="+closed.ExperimentID) ||
				!strings.Contains(outbound, open.ExperimentID) {
				t.Errorf("MLflow was sent %s", outbound)
			}
			var top map[string][]json.RawMessage
			_ = json.Unmarshal(a.Body, &top)
			if len(top[c.list]) != c.want {
				t.Errorf("%d results, want %d: %s", len(top[c.list]), c.want, a.Body)
			}
		})
		t.Run(c.name+" of only unreadable experiments is empty without MLflow", func(t *testing.T) {
			var calls []sent
			body := strings.ReplaceAll(c.body, `"`+open.ExperimentID+`"`, `"`+closed.ExperimentID+`"`)
			query := strings.ReplaceAll(c.query, "="+open.ExperimentID, "="+closed.ExperimentID)
			req := searchfilter.Request{Operation: c.operation, Method: c.method, RawQuery: query, Body: []byte(body)}
			a, handled, err := f.Serve(context.Background(), req, m.fetcher(c.method, c.path, &calls))
			if err != nil || !handled || a.Status != 200 || string(a.Body) != "{}" || len(calls) != 0 {
				t.Errorf("handled %v, %v, %d calls: %d %s", handled, err, len(calls), a.Status, a.Body)
			}
		})
	}
	t.Run("the runs found are the readable experiment's", func(t *testing.T) {
		var calls []sent
		req := searchfilter.Request{Operation: "SearchRuns", Method: "POST", Body: []byte(mustJSON(map[string]any{"experiment_ids": both, "max_results": 1}))}
		pages := pageThrough(t, f, req, m.fetcher("POST", "/api/2.0/mlflow/runs/search", &calls), &calls, func(r *searchfilter.Request, token string) {
			r.Body = []byte(mustJSON(map[string]any{"experiment_ids": both, "max_results": 1, "page_token": token}))
		}, "runs", "run_id")
		got := all(pages)
		slices.Sort(got)
		slices.Sort(openRuns)
		if !slices.Equal(got, openRuns) {
			t.Errorf("got %v, want %v", got, openRuns)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestEverythingReadableIsMLflowsOwnAnswer(t *testing.T) {
	perms := &hiding{readsAll: true}
	f := searchfilter.New(perms)
	for _, op := range []string{"SearchExperiments", "SearchRuns", "SearchLoggedModels", "SearchTraces", "SearchTracesV3",
		"SearchRegisteredModels", "SearchModelVersions", "GetLatestVersions", "GetExperiment"} {
		calls := 0
		_, handled, err := f.Serve(context.Background(), searchfilter.Request{Operation: op, Method: "POST", Body: []byte(`{"max_results":5,"page_token":"eyJvZmZzZXQiOiA1fQ=="}`)},
			func(context.Context, string, []byte) (searchfilter.Answer, error) {
				calls++
				return searchfilter.Answer{}, nil
			})
		if handled || err != nil || calls != 0 || perms.asked != 0 {
			t.Errorf("%s: handled %v, %v, %d calls, %d permission questions", op, handled, err, calls, perms.asked)
		}
	}
}
