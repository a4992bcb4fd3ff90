package mlflowproxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// hiddenFrom is a permission source that hides the resources it lists from everyone; readsAll
// is the default READ (nothing hidden, nothing asked).
type hiddenFrom struct {
	mu       sync.Mutex
	hidden   map[permissions.Resource]bool
	readsAll bool
	asked    atomic.Int64
}

func (h *hiddenFrom) ReadsAll(permissions.Caller) bool { return h.readsAll }

func (h *hiddenFrom) Readable(_ context.Context, _ permissions.Caller, rs []permissions.Resource) ([]bool, error) {
	h.asked.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]bool, len(rs))
	for i, r := range rs {
		out[i] = !h.hidden[r]
	}
	return out, nil
}

func TestSearchesThroughTheProxy(t *testing.T) {
	counted := newCountingMLflow(t, realMLflow(t))
	upstreamURL := counted.URL
	mlflowCalls := func() int {
		n := 0
		for _, c := range counted.take() {
			n += c
		}
		return n
	}
	perms := &hiddenFrom{hidden: map[permissions.Resource]bool{}}
	h := newProxy(t, upstreamURL, nil).FilterSearches(perms)
	gw := gateway(t, h, writer)
	asWriter := client{gw.URL}
	prefix := fmt.Sprintf("proxy-search-%d", time.Now().UnixNano())

	var ids, want []string
	for i := range 7 {
		var exp struct {
			ExperimentID string `json:"experiment_id"`
		}
		asWriter.decode(t, "POST", "/api/mlflow/api/2.0/mlflow/experiments/create", map[string]string{"name": fmt.Sprintf("%s-%d", prefix, i)}, &exp)
		ids = append(ids, exp.ExperimentID)
		if i%3 == 1 {
			perms.hidden[permissions.Resource{Kind: permissions.Experiment, ID: exp.ExperimentID}] = true
		} else {
			want = append(want, exp.ExperimentID)
		}
		name := fmt.Sprintf("%s-model-%d", prefix, i)
		asWriter.decode(t, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/create", map[string]string{"name": name}, &map[string]any{})
		if i%3 == 1 {
			perms.hidden[permissions.Resource{Kind: permissions.RegisteredModel, ID: name}] = true
		}
	}

	t.Run("the stock client pages through only what it may read, in full pages", func(t *testing.T) {
		out := runPython(t, "", "-W", "ignore", "-c", `
import json, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
def pages(search):
    out, token = [], None
    while True:
        page = search(token)
        out.append([getattr(x, "experiment_id", None) or x.name for x in page])
        token = page.token
        if not token:
            return out
print(json.dumps({
    "experiments": pages(lambda t: c.search_experiments(filter_string="name LIKE '`+prefix+`-%'", max_results=2, order_by=["name ASC"], page_token=t)),
    "models": pages(lambda t: c.search_registered_models(filter_string="name LIKE '`+prefix+`-model-%'", max_results=2, order_by=["name ASC"], page_token=t)),
}))
`, gw.URL+"/api/mlflow")
		var got struct{ Experiments, Models [][]string }
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		var flat []string
		for i, p := range got.Experiments {
			flat = append(flat, p...)
			if i < len(got.Experiments)-1 && len(p) != 2 {
				t.Errorf("experiment page %d: %v", i, p)
			}
		}
		if !slices.Equal(flat, want) {
			t.Errorf("experiments %v, want %v", got.Experiments, want)
		}
		var models []string
		for _, p := range got.Models {
			models = append(models, p...)
		}
		if len(models) != 5 || slices.ContainsFunc(models, func(n string) bool { return strings.HasSuffix(n, "-1") || strings.HasSuffix(n, "-4") }) {
			t.Errorf("models %v", got.Models)
		}
	})

	t.Run("a bad page token is MLflow's INVALID_PARAMETER_VALUE, without a call", func(t *testing.T) {
		mlflowCalls()
		code, _, body := asWriter.call(t, "GET", "/api/mlflow/api/2.0/mlflow/experiments/search?max_results=2&page_token=hkp1.bm9wZQ", nil, nil)
		if v := mlflowBody(t, body); code != http.StatusBadRequest || v["error_code"] != "INVALID_PARAMETER_VALUE" {
			t.Errorf("%d %s", code, body)
		}
		if n := mlflowCalls(); n != 0 {
			t.Errorf("%d MLflow calls", n)
		}
	})

	t.Run("runs/search of only unreadable experiments is empty without a call", func(t *testing.T) {
		mlflowCalls()
		code, _, body := asWriter.call(t, "POST", "/api/mlflow/api/2.0/mlflow/runs/search",
			jsonBody(map[string]any{"experiment_ids": []string{ids[1], ids[4]}}), http.Header{"Content-Type": {"application/json"}})
		if n := mlflowCalls(); code != 200 || string(body) != "{}" || n != 0 {
			t.Errorf("%d %s, %d calls", code, body, n)
		}
	})

	t.Run("with everything readable the answer is MLflow's own, byte for byte, in one call", func(t *testing.T) {
		all := &hiddenFrom{readsAll: true}
		open := client{gateway(t, newProxy(t, upstreamURL, nil).FilterSearches(all), writer).URL}
		direct := client{realMLflow(t)}
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/2.0/mlflow/experiments/search?max_results=2&filter=" + url.QueryEscape("name LIKE '"+prefix+"-%'")},
			{"POST", "/api/2.0/mlflow/runs/search"},
			{"GET", "/api/2.0/mlflow/registered-models/search?max_results=3&filter=" + url.QueryEscape("name LIKE '"+prefix+"-%'")},
		} {
			body := jsonBody(map[string]any{"experiment_ids": ids})
			hdr := http.Header{"Content-Type": {"application/json"}}
			_, _, want := direct.call(t, c.method, c.path, body, hdr)
			mlflowCalls()
			code, _, got := open.call(t, c.method, "/api/mlflow"+c.path, body, hdr)
			if code != 200 || string(got) != string(want) {
				t.Errorf("%s %s: %d %s, MLflow's %s", c.method, c.path, code, got, want)
			}
			if n := mlflowCalls(); n != 1 {
				t.Errorf("%s %s: %d MLflow calls", c.method, c.path, n)
			}
		}
		if all.asked.Load() != 0 {
			t.Errorf("%d permission questions", all.asked.Load())
		}
	})
}

// storeDown cannot read permissions.
type storeDown struct{}

func (storeDown) ReadsAll(permissions.Caller) bool { return false }
func (storeDown) Readable(context.Context, permissions.Caller, []permissions.Resource) ([]bool, error) {
	return nil, errors.New("dynamodb: connection refused")
}

// A search whose permissions cannot be read is 503 TEMPORARILY_UNAVAILABLE, as the per-resource
// check answers it, never unfiltered results, and its cause stays in the log.
func TestSearchWithoutPermissionsIsUnavailable(t *testing.T) {
	counted := newCountingMLflow(t, realMLflow(t))
	h := newProxy(t, counted.URL, nil).FilterSearches(storeDown{})
	code, _, body := do(t, h, "POST", "/api/mlflow/api/2.0/mlflow/runs/search", jsonBody(map[string]any{"experiment_ids": []string{"0"}}), writer, nil)
	if v := mlflowBody(t, body); code != http.StatusServiceUnavailable || v["error_code"] != "TEMPORARILY_UNAVAILABLE" || strings.Contains(string(body), "dynamodb") {
		t.Errorf("%d %s", code, body)
	}
	if calls := counted.take(); len(calls) != 0 {
		t.Errorf("MLflow calls %v", calls)
	}
}
