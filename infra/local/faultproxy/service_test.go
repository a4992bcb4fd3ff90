package faultproxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
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

// A held request reaches the upstream only when the test releases it, and then even though its
// client gave up long before: the upstream acts on it late, as a slow MLflow commits a create
// whose caller timed out. Requests on other paths pass meanwhile.
func TestHoldForwardsAfterTheClientLeft(t *testing.T) {
	arrived := make(chan string, 10)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		arrived <- r.URL.Path + " " + string(b)
		w.WriteHeader(200)
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	p := NewService(target, "mlflow")
	srv := httptest.NewServer(p)
	defer srv.Close()
	release := make(chan struct{})
	var releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	held := make(chan string, 1)
	p.SetFault("mlflow", Fault{PathSuffix: "/model-versions/create", Hold: release,
		OnHold: func(r *http.Request) { held <- r.URL.Path }})
	post := func(ctx context.Context, path string) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+path, strings.NewReader(`{"name":"m"}`))
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	within := func(c <-chan string, what string) string {
		t.Helper()
		select {
		case v := <-c:
			return v
		case <-time.After(30 * time.Second): // a bound for a broken proxy, not a measurement
			t.Fatalf("%s never happened", what)
			return ""
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- post(ctx, "/api/2.0/mlflow/model-versions/create") }()
	if got := within(held, "the hold"); got != "/api/2.0/mlflow/model-versions/create" {
		t.Fatalf("held %q", got)
	}
	cancel() // the client gives up, as the function's MLflow timeout does
	if err := <-gaveUp; err == nil {
		t.Fatal("the client got an answer while its request was held")
	}
	if err := post(context.Background(), "/api/2.0/mlflow/model-versions/search"); err != nil {
		t.Fatal(err)
	}
	if got := within(arrived, "the other path"); got != `/api/2.0/mlflow/model-versions/search {"name":"m"}` {
		t.Fatalf("upstream got %q first; the held request must wait for its release", got)
	}
	releaseOnce.Do(func() { close(release) })
	if got := within(arrived, "the late forward"); got != `/api/2.0/mlflow/model-versions/create {"name":"m"}` {
		t.Fatalf("upstream got %q", got)
	}
}
