package mlflow_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
)

// FindRegisteredModel finds a registered model MLflow holds under any spelling the gateway folds
// to the same name, and nothing else, whatever characters the name holds.
func TestFindRegisteredModelAgainstMLflow(t *testing.T) {
	c := client(t, realMLflow(t), 10*time.Second)
	ctx := context.Background()
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	held := func(s string) string { return "find-" + run + "-" + s }
	for _, s := range []string{"Sales-Model", "Kelvin-\u212A", "long-\u017Fign", "Ärger", "under_score", "50%off", "日本"} {
		if err := c.CreateRegisteredModel(ctx, held(s)); err != nil {
			t.Fatalf("create %q: %v", held(s), err)
		}
	}
	for _, tc := range []struct{ ask, want string }{
		{held("Sales-Model"), held("Sales-Model")},
		{held("sales-model"), held("Sales-Model")},
		{held("SALES-MODEL"), held("Sales-Model")},
		{held("kelvin-k"), held("Kelvin-\u212A")},   // the Kelvin sign folds with k
		{held("LONG-SIGN"), held("long-\u017Fign")}, // the long s folds with s
		{held("ärger"), held("Ärger")},
		{held("UNDER_SCORE"), held("under_score")},
		{held("50%OFF"), held("50%off")},
		{held("日本"), held("日本")},
		{held("underXscore"), ""}, // "_" is a wildcard to MLflow, not to the gateway
		{held("50-off"), ""},
		{held("50%offer"), ""},
		{held("Sales-Mode"), ""},
		{held("日"), ""},
		{held("it's"), ""}, // a quote goes into no filter
		{"find-" + run, ""},
	} {
		t.Run(tc.ask, func(t *testing.T) {
			got, err := c.FindRegisteredModel(ctx, tc.ask)
			if err != nil || got != tc.want {
				t.Errorf("FindRegisteredModel(%q) = %q, %v; want %q", tc.ask, got, err, tc.want)
			}
		})
	}
}

// A name whose pattern matches more models than the bounded pages hold is inconclusive, never
// "absent".
func TestFindRegisteredModelInconclusive(t *testing.T) {
	pages := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages++
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"registered_models":[{"name":"other"}],"next_page_token":"more"}`)
	}))
	defer srv.Close()
	_, err := client(t, srv.URL, 5*time.Second).FindRegisteredModel(context.Background(), "ÄÖÜ")
	if !errors.Is(err, mlflow.ErrInconclusive) || pages != 5 {
		t.Errorf("%v after %d pages", err, pages)
	}
}
