package mlflow_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow/mlflowtest"
)

func client(t *testing.T, rawURL string, timeout time.Duration) *mlflow.Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return mlflow.New(u, timeout, nil)
}

// Each kind of answer becomes the error a caller can act on.
func TestClientClassifiesAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		handler   http.HandlerFunc
		check     func(error) bool
		wantError string
	}{
		{"MLflow's JSON error", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Run 'x' not found"}`)
		}, func(err error) bool {
			var ae *mlflow.APIError
			return errors.As(err, &ae) && ae.Status == 404 && ae.Code == mlflow.ResourceDoesNotExist && mlflow.Code(err) == ae.Code
		}, "RESOURCE_DOES_NOT_EXIST"},
		{"a load balancer's HTML 502", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(502)
			_, _ = io.WriteString(w, `<html>bad gateway</html>`)
		}, func(err error) bool { return errors.Is(err, mlflow.ErrUnavailable) }, "unavailable"},
		{"an HTML 404 (wrong base path)", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `<html>not found</html>`)
		}, func(err error) bool {
			var ae *mlflow.APIError
			return errors.As(err, &ae) && ae.Status == 404 && ae.Code == ""
		}, "404"},
		{"a 200 that is not JSON", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `<html>login</html>`)
		}, func(err error) bool { return errors.Is(err, mlflow.ErrUnavailable) }, "not the JSON"},
		{"a redirect is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example.com/", http.StatusFound)
		}, func(err error) bool { var ae *mlflow.APIError; return errors.As(err, &ae) && ae.Status == 302 }, "302"},
		{"too slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		}, func(err error) bool {
			return errors.Is(err, mlflow.ErrTimeout) && errors.Is(err, context.DeadlineExceeded)
		}, "did not answer in time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, err := client(t, srv.URL, 300*time.Millisecond).GetRun(context.Background(), "r1")
			if err == nil || !tc.check(err) || !strings.Contains(err.Error(), tc.wantError) || !strings.Contains(err.Error(), "GET runs/get") {
				t.Errorf("%v", err)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		if _, err := client(t, srv.URL, time.Second).GetRun(context.Background(), "r1"); !errors.Is(err, mlflow.ErrUnavailable) {
			t.Errorf("%v", err)
		}
	})
	t.Run("the caller's deadline is a timeout too", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		// A client that ignored the caller's deadline would wait for its own two minutes; the
		// bound tells the two apart with room for any machine.
		_, err := client(t, srv.URL, 2*time.Minute).GetRun(ctx, "r1")
		if !errors.Is(err, mlflow.ErrTimeout) || time.Since(start) > time.Minute {
			t.Errorf("%v after %s", err, time.Since(start))
		}
	})
}

func TestClientRequests(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s?%s %s %s", r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Content-Type"), body))
		mu.Unlock()
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	c := client(t, srv.URL+"/mlflow/", time.Second)
	ctx := context.Background()
	_, _ = c.GetRun(ctx, "r 1")
	_, _ = c.FindLoggedModels(ctx, "7", "r1", "model")
	_ = c.SetRunTags(ctx, "r1", []mlflow.Tag{{Key: "k", Value: "v"}})
	_, _ = c.FindModelVersionsByTag(ctx, "hokusai_registration_id", "abc")
	_, _ = c.GetLoggedModel(ctx, "m-1/../x")
	want := []string{
		`GET /mlflow/api/2.0/mlflow/runs/get?run_id=r+1  `,
		`POST /mlflow/api/2.0/mlflow/logged-models/search? application/json {"experiment_ids":["7"],"filter":"name = 'model' AND source_run_id = 'r1'","max_results":100}`,
		`POST /mlflow/api/2.0/mlflow/runs/log-batch? application/json {"run_id":"r1","tags":[{"key":"k","value":"v"}]}`,
		`GET /mlflow/api/2.0/mlflow/model-versions/search?filter=tags.hokusai_registration_id+%3D+%27abc%27&max_results=100  `,
		`GET /mlflow/api/2.0/mlflow/logged-models/m-1%2F..%2Fx?  `,
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	// Values that would change a search filter's meaning are refused before any call.
	for _, bad := range []func() error{
		func() error { _, err := c.FindLoggedModels(ctx, "7", "r1", "mo'del"); return err },
		func() error { _, err := c.FindLoggedModels(ctx, "7", `r"1`, "model"); return err },
		func() error { _, err := c.FindModelVersionsByTag(ctx, "a.b", "x"); return err },
		func() error { _, err := c.FindModelVersionsByTag(ctx, "k", "x' OR name = 'y"); return err },
	} {
		if err := bad(); err == nil {
			t.Error("an unquotable value was accepted")
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d calls", len(seen))
	}
}

func realMLflow(t *testing.T) string {
	t.Helper()
	return testenv.MLflow(t).URL
}

func TestMain(m *testing.M) { testenv.Main(m) }

// Every call the registry makes, against a real MLflow 3.
func TestClientAgainstMLflow(t *testing.T) {
	base := realMLflow(t)
	logged := mlflowtest.LogModel(t, base)
	c := client(t, base, 10*time.Second)
	ctx := context.Background()
	name := fmt.Sprintf("client-test-%d", time.Now().UnixNano())

	run, err := c.GetRun(ctx, logged.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.RunID != logged.RunID || run.Info.ExperimentID != logged.ExperimentID || run.Info.LifecycleStage != "active" ||
		!strings.HasPrefix(run.Info.ArtifactURI, "mlflow-artifacts:/") || len(run.Outputs.ModelOutputs) != 1 ||
		run.Outputs.ModelOutputs[0].ModelID != logged.ModelID {
		t.Errorf("run %+v", run)
	}
	if _, err := c.GetRun(ctx, "0000000000000000000000000000dead"); mlflow.Code(err) != mlflow.ResourceDoesNotExist {
		t.Errorf("missing run: %v", err)
	}

	models, err := c.FindLoggedModels(ctx, logged.ExperimentID, logged.RunID, "model")
	if err != nil || len(models) != 1 || models[0].Info.ModelID != logged.ModelID || models[0].Info.SourceRunID != logged.RunID {
		t.Errorf("logged models %+v %v", models, err)
	}
	if models, err := c.FindLoggedModels(ctx, logged.ExperimentID, logged.RunID, "other"); err != nil || len(models) != 0 {
		t.Errorf("another name: %+v %v", models, err)
	}
	lm, err := c.GetLoggedModel(ctx, logged.ModelID)
	if err != nil || lm.Info.Name != "model" || lm.Info.SourceRunID != logged.RunID {
		t.Errorf("logged model %+v %v", lm, err)
	}
	if _, err := c.GetLoggedModel(ctx, "m-missing"); mlflow.Code(err) != mlflow.ResourceDoesNotExist {
		t.Errorf("missing logged model: %v", err)
	}
	// MLflow 3 keeps the model with the logged model, not among the run's artifacts.
	if files, err := c.ListArtifacts(ctx, logged.RunID, "model"); err != nil || len(files) != 0 {
		t.Errorf("run artifacts %+v %v", files, err)
	}

	if err := c.CreateRegisteredModel(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateRegisteredModel(ctx, name); mlflow.Code(err) != mlflow.ResourceAlreadyExists {
		t.Errorf("second create: %v", err)
	}
	mv, err := c.CreateModelVersion(ctx, mlflow.NewModelVersion{
		Name: name, Source: "models:/" + logged.ModelID, RunID: logged.RunID, ModelID: logged.ModelID, Description: "d",
		Tags: []mlflow.Tag{{Key: "hokusai_registration_id", Value: "reg-" + name}, {Key: "hokusai.eval_spec", Value: "e"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if mv.Version != "1" || mv.Source != "models:/"+logged.ModelID || mv.RunID != logged.RunID || mv.CreationTimestamp == 0 ||
		mlflow.TagMap(mv.Tags)["hokusai.eval_spec"] != "e" || mv.Description != "d" {
		t.Errorf("created %+v", mv)
	}
	if err := c.SetModelVersionTag(ctx, name, "1", mlflow.Tag{Key: "stage", Value: "test"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetModelVersion(ctx, name, "1")
	if err != nil || mlflow.TagMap(got.Tags)["stage"] != "test" {
		t.Errorf("get %+v %v", got, err)
	}
	if _, err := c.GetModelVersion(ctx, name, "2"); mlflow.Code(err) != mlflow.ResourceDoesNotExist {
		t.Errorf("missing version: %v", err)
	}
	found, err := c.FindModelVersionsByTag(ctx, "hokusai_registration_id", "reg-"+name)
	if err != nil || len(found) != 1 || found[0].Name != name || found[0].Version != "1" {
		t.Errorf("by tag %+v %v", found, err)
	}
	if found, err := c.FindModelVersionsByTag(ctx, "hokusai_registration_id", "nobody"); err != nil || len(found) != 0 {
		t.Errorf("by unknown tag %+v %v", found, err)
	}
	if err := c.SetRunTags(ctx, logged.RunID, []mlflow.Tag{{Key: "hokusai.eval_spec", Value: "e"}, {Key: "hokusai.scorer_ref", Value: "s"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRunTags(ctx, "0000000000000000000000000000dead", []mlflow.Tag{{Key: "a", Value: "b"}}); mlflow.Code(err) != mlflow.ResourceDoesNotExist {
		t.Errorf("tags on a missing run: %v", err)
	}
	// The version is what mlflow.register_model makes of the same run.
	stock := mlflowtest.RegisterModel(t, base, logged.RunID, name+"-stock")
	ours := mlflowtest.GetVersion(t, base, name, "1")
	if stock.Source != ours.Source || stock.RunID != ours.RunID || !equalPtr(stock.ModelID, ours.ModelID) {
		t.Errorf("ours %+v, register_model's %+v", ours, stock)
	}
}

func equalPtr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
