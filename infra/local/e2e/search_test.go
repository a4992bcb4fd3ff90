package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
)

// Issue 14, item 2: with the default NO_PERMISSIONS, a user's searches through the stock client
// show only what they may read (their own experiments, runs, registered models and versions),
// in full pages, paging through without a repeat or a gap; an admin sees everything.
func TestSearchesShowOnlyWhatTheCallerMayRead(t *testing.T) {
	st, at, admin, keyOf := privateStack(t, "e2e-search")
	userA, userB := keyOf(uniqueToken("e2e-search-a")), keyOf(uniqueToken("e2e-search-b"))

	// Names in one order, every third B's: B's searches cross A's results, which are dropped
	// and refilled from further upstream pages.
	prefix := uniqueToken("e2e-search")
	var allIDs, wantB, wantBRuns, wantAll []string
	for i := range 9 {
		key := userA
		name := fmt.Sprintf("%s-%d", prefix, i)
		if i%3 == 1 {
			key = userB
			wantB = append(wantB, name)
		}
		wantAll = append(wantAll, name)
		var exp struct {
			ExperimentID string `json:"experiment_id"`
		}
		at.decode("POST", "/api/2.0/mlflow/experiments/create", key, map[string]any{"name": name}, &exp)
		allIDs = append(allIDs, exp.ExperimentID)
		at.decode("POST", "/api/2.0/mlflow/runs/create", key, map[string]any{"experiment_id": exp.ExperimentID}, &map[string]any{})
		if key == userB {
			wantBRuns = append(wantBRuns, exp.ExperimentID)
		}
		at.decode("POST", "/api/2.0/mlflow/registered-models/create", key, map[string]any{"name": name}, &map[string]any{})
		at.decode("POST", "/api/2.0/mlflow/model-versions/create", key, map[string]any{"name": name, "source": "s3://e2e/model"}, &map[string]any{})
	}

	type pages struct {
		Experiments, Models, Versions, Runs [][]string
	}
	search := func(key string) pages {
		var res pages
		runScript(t, &res, "search_client.py", []string{prefix, strings.Join(allIDs, ",")}, st.APIURL+"/api/mlflow", key)
		return res
	}
	check := func(who, what string, got [][]string, want []string, sorted bool) {
		t.Helper()
		var flat []string
		for i, p := range got {
			flat = append(flat, p...)
			if i < len(got)-1 && len(p) != 2 {
				t.Errorf("%s's %s: page %d of %v is not full", who, what, i, got)
			}
		}
		if sorted {
			slices.Sort(flat)
			want = slices.Sorted(slices.Values(want))
		}
		if !slices.Equal(flat, want) {
			t.Errorf("%s's %s: %v, want %v", who, what, got, want)
		}
	}

	b := search(userB)
	check("B", "experiments", b.Experiments, wantB, false)
	check("B", "registered models", b.Models, wantB, false)
	check("B", "model versions", b.Versions, wantB, false)
	check("B", "runs", b.Runs, wantBRuns, true)

	all := search(admin)
	check("the admin", "experiments", all.Experiments, wantAll, false)
	check("the admin", "registered models", all.Models, wantAll, false)
	check("the admin", "runs", all.Runs, allIDs, true)

	// A search of only what B may not read is empty; a forged page token is MLflow's 400.
	var none map[string]any
	at.decode("POST", "/api/2.0/mlflow/runs/search", userB, map[string]any{"experiment_ids": []string{allIDs[0], allIDs[2]}}, &none)
	if len(none) != 0 {
		t.Errorf("B's search of A's experiments: %v", none)
	}
	code, body := at.do("GET", "/api/2.0/mlflow/experiments/search?max_results=2&page_token=hkp1.Zm9yZ2Vk", userB, nil)
	var e struct {
		ErrorCode string `json:"error_code"`
	}
	if _ = json.Unmarshal(body, &e); code != 400 || e.ErrorCode != "INVALID_PARAMETER_VALUE" {
		t.Errorf("a forged page token: %d %s", code, body)
	}
}

// stackCaller calls one stack's API with a key.
// privateStack starts a second stack whose proxy's default is NO_PERMISSIONS, so what a user did
// not create or was not granted is theirs to see nowhere, with an admin key, a caller for its API,
// and keyOf, which issues an ordinary write key for a user.
func privateStack(t *testing.T, name string) (st *harness.Harness, at stackCaller, admin string, keyOf func(user string) string) {
	t.Helper()
	tmpl := synthTemplate(t, "local", nil)
	withFunctionEnv(t, tmpl, "mlflowproxy", map[string]string{"PERMISSIONS_DEFAULT": "NO_PERMISSIONS"})
	st, _ = startStack(t, tmpl, harness.Options{})
	admin, err := st.MintAdminKey(context.Background(), name+"-admin", name+"-admin@e2e.test")
	if err != nil || admin == "" {
		t.Fatalf("mint admin key: %v", err)
	}
	at = stackCaller{t, st.APIURL}
	keyOf = func(user string) string {
		body, _ := json.Marshal(map[string]any{"user_id": user, "email": user + "@e2e.test", "scopes": []string{"mlflow:write"}})
		code, b := at.do("POST", "/api/keys", admin, body)
		if code != 201 {
			t.Fatalf("create key: %d %s", code, b)
		}
		var out struct{ Key string }
		_ = json.Unmarshal(b, &out)
		return out.Key
	}
	return st, at, admin, keyOf
}

type stackCaller struct {
	t    *testing.T
	base string
}

func (c stackCaller) do(method, path, key string, body []byte) (int, []byte) {
	c.t.Helper()
	if strings.HasPrefix(path, "/api/2.0/") {
		path = "/api/mlflow" + path
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return res.StatusCode, b
}

func (c stackCaller) decode(method, path, key string, body, v any) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	code, out := c.do(method, path, key, b)
	if code != 200 {
		c.t.Fatalf("%s %s: %d %s", method, path, code, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		c.t.Fatalf("%s %s: %v: %s", method, path, err, out)
	}
}
