package faultproxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// A non-AWS upstream (MLflow): every request is one service, counted by method and path, and
// observable before it is forwarded; faults apply by that service name.
func TestNewServiceCountsObservesAndFaults(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	p := NewService(target, "mlflow")
	var mu sync.Mutex
	var seen []string
	p.Observe(func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.Header.Get("X-Hokusai-User-Id"))
	})
	srv := httptest.NewServer(p)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL+"/api/2.0/mlflow/runs/create", nil)
	req.Header.Set("X-Hokusai-User-Id", "u1")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 204 {
		t.Fatalf("%v %v", res, err)
	}
	res.Body.Close()
	if got := p.Operations()["POST /api/2.0/mlflow/runs/create"]; got != 1 {
		t.Errorf("operations %v", p.Operations())
	}
	if p.Counts()["mlflow"] != 1 || len(seen) != 1 || seen[0] != "u1" {
		t.Errorf("counts %v seen %v", p.Counts(), seen)
	}
	p.SetFault("mlflow", Fault{Status: 503})
	res, err = http.Get(srv.URL + "/health")
	if err != nil || res.StatusCode != 503 {
		t.Fatalf("fault not applied: %v %v", res, err)
	}
	res.Body.Close()
}

// An upstream that is down reaches the client as a transport error, the way the dead host itself
// would answer, not as an HTTP answer the proxy made up (a client maps the two differently).
func TestDeadUpstreamLooksDead(t *testing.T) {
	upstream := httptest.NewServer(http.NotFoundHandler())
	target, _ := url.Parse(upstream.URL)
	upstream.Close() // nothing listens on target any more
	srv := httptest.NewServer(NewService(target, "mlflow"))
	defer srv.Close()

	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, srv.URL+"/api/2.0/mlflow/experiments/search", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			t.Fatalf("%s: the proxy answered %d for a dead upstream; want a transport error", method, res.StatusCode)
		}
	}
}
