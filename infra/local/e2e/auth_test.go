package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
)

const getItem = "DynamoDB_20120810.GetItem"

// adminKey mints an admin key the way `make local` does, through a direct invocation.
func adminKey(t *testing.T) string {
	t.Helper()
	key, err := h.MintAdminKey(context.Background(), "e2e-admin", "admin@e2e.test")
	if err != nil || key == "" {
		t.Fatalf("mint admin key: %q %v", key, err)
	}
	return key
}

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

// createKey makes a key with scopes through the keys API and returns the plain key and its id.
func createKey(t *testing.T, admin string, user string, scopes ...string) (string, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"user_id": user, "email": user + "@e2e.test", "scopes": scopes})
	res, b := call(t, "POST", "/api/keys", strings.NewReader(string(body)), bearer(admin))
	if res.StatusCode != 201 {
		t.Fatalf("create key: %d %s", res.StatusCode, b)
	}
	out := jsonBody(t, b)
	return out["key"].(string), out["key_id"].(string)
}

func assertUnauthorized(t *testing.T, res *http.Response, b []byte) {
	t.Helper()
	body := jsonBody(t, b)
	if res.StatusCode != 401 || body["error"] != "UNAUTHORIZED" || body["error_code"] != "UNAUTHORIZED" || body["request_id"] == "" {
		t.Errorf("want the 401 JSON, got %d %s", res.StatusCode, b)
	}
}

func TestKeysAndAuthorizer(t *testing.T) {
	admin := adminKey(t)
	reader, readerID := createKey(t, admin, "e2e-reader", "model:read")
	stranger := "hk_dev_" + strings.Repeat("Z", 40)
	keysSeen := []string{admin, reader}

	t.Run("missing, malformed, unknown keys and keys in the query string are one 401", func(t *testing.T) {
		for name, tc := range map[string]struct {
			path    string
			headers map[string]string
		}{
			"none":            {"/api/keys", nil},
			"malformed":       {"/api/keys", bearer("hk_live_short")},
			"wrong scheme":    {"/api/keys", map[string]string{"Authorization": "Basic " + admin}},
			"unknown":         {"/api/keys", bearer(stranger)},
			"in query string": {"/api/keys?api_key=" + admin + "&key=" + admin, nil},
		} {
			t.Run(name, func(t *testing.T) {
				res, b := call(t, "GET", tc.path, nil, tc.headers)
				assertUnauthorized(t, res, b)
			})
		}
	})

	t.Run("a request carrying two different keys is one 401, whichever comes first", func(t *testing.T) {
		for name, header := range map[string]http.Header{
			"X-API-Key twice":            {"X-Api-Key": {reader, admin}},
			"two spellings of X-API-Key": {"X-API-Key": {admin}, "x-api-key": {reader}},
			"Authorization twice":        {"Authorization": {"Bearer " + admin, "Bearer " + reader}},
		} {
			t.Run(name, func(t *testing.T) {
				req, err := http.NewRequest("GET", h.APIURL+"/api/keys", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header = header
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				assertUnauthorized(t, res, b)
			})
		}
	})

	t.Run("every header form is accepted and the context reaches the function", func(t *testing.T) {
		for name, headers := range map[string]map[string]string{
			"Bearer":    bearer(reader),
			"ApiKey":    {"Authorization": "ApiKey " + reader},
			"X-API-Key": {"X-API-Key": reader},
		} {
			res, b := call(t, "GET", "/api/keys", nil, headers)
			if res.StatusCode != 200 {
				t.Fatalf("%s: %d %s", name, res.StatusCode, b)
			}
			// A read-only user lists only its own keys: the function saw who called.
			if !strings.Contains(string(b), readerID) || strings.Contains(string(b), "e2e-admin") {
				t.Errorf("%s: list is not the reader's own: %s", name, b)
			}
		}
	})

	t.Run("scopes are enforced by the function with 403", func(t *testing.T) {
		body := `{"scopes":["model:read"]}`
		res, b := call(t, "POST", "/api/keys", strings.NewReader(body), bearer(reader))
		out := jsonBody(t, b)
		if res.StatusCode != 403 || out["error"] != "FORBIDDEN" || out["required_scope"] == nil || out["current_scopes"] == nil {
			t.Errorf("%d %s", res.StatusCode, b)
		}
	})

	t.Run("a miss is exactly one GetItem, a hit none", func(t *testing.T) {
		key, _ := createKey(t, admin, "e2e-counter", "model:read")
		keysSeen = append(keysSeen, key)
		h.Faults.ResetCounts()
		if res, b := call(t, "GET", "/api/keys", nil, bearer(key)); res.StatusCode != 200 {
			t.Fatalf("%d %s", res.StatusCode, b)
		}
		if n := h.Faults.Operations()[getItem]; n != 1 {
			t.Errorf("first request: %d GetItem, want 1", n)
		}
		h.Faults.ResetCounts()
		call(t, "GET", "/api/keys", nil, bearer(key))
		if n := h.Faults.Operations()[getItem]; n != 0 {
			t.Errorf("cached request: %d GetItem, want 0", n)
		}
		h.Faults.ResetCounts()
		res, b := call(t, "GET", "/api/keys", nil, bearer("hk_live_!!notbase62!!notbase62!!"))
		assertUnauthorized(t, res, b)
		if n := h.Faults.Counts()["dynamodb"]; n != 0 {
			t.Errorf("malformed key cost %d DynamoDB calls", n)
		}
	})

	t.Run("a revoked key is refused within the stated delay", func(t *testing.T) {
		key, id := createKey(t, admin, "e2e-revoked", "model:write")
		keysSeen = append(keysSeen, key)
		if res, _ := call(t, "GET", "/api/keys", nil, bearer(key)); res.StatusCode != 200 {
			t.Fatal("fresh key refused")
		}
		res, b := call(t, "DELETE", "/api/keys/"+id, nil, bearer(admin))
		if res.StatusCode != 200 {
			t.Fatalf("revoke: %d %s", res.StatusCode, b)
		}
		within := time.Duration(jsonBody(t, b)["effective_within_seconds"].(float64)) * time.Second
		revokedAt := time.Now()
		for {
			res, b := call(t, "GET", "/api/keys", nil, bearer(key))
			if res.StatusCode == 401 {
				assertUnauthorized(t, res, b)
				break
			}
			// One second of slack for the request itself; the bound is the stated delay.
			if time.Since(revokedAt) > within+time.Second {
				t.Fatalf("revoked key still accepted after %s (stated %s)", time.Since(revokedAt), within)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("no key appears in any log line", func(t *testing.T) {
		logs := output.String()
		for _, k := range keysSeen {
			if strings.Contains(logs, k) || strings.Contains(logs, k[len(k)-20:]) {
				t.Errorf("key %s… found in the stack's output", apikey.DisplayPrefix(k))
			}
		}
		if !strings.Contains(logs, "[authorizer]") {
			t.Error("the authorizer's output was not collected, so the search proves nothing")
		}
	})
}

func TestPreflightNeedsNoKey(t *testing.T) {
	res, _ := call(t, "OPTIONS", "/api/keys", nil, nil)
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("%d %v", res.StatusCode, res.Header)
	}
}

var _ = fmt.Sprint
