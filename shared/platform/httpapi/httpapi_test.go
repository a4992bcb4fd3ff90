package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
)

func TestWriteErrorMapsEveryKind(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantDetail any
		wantHeader [2]string
	}{
		{"bad request", httpapi.BadRequest("malformed JSON"), 400, "BAD_REQUEST", "malformed JSON", [2]string{}},
		{"wrapped http error keeps its status", fmt.Errorf("ctx: %w", httpapi.NotFound("no such thing")), 404, "NOT_FOUND", "no such thing", [2]string{}},
		{"validation lists fields", httpapi.Validation(httpapi.FieldError{Field: "token_id", Message: "required"}), 422, "VALIDATION_ERROR",
			[]any{map[string]any{"field": "token_id", "message": "required"}}, [2]string{}},
		{"unavailable sets Retry-After", httpapi.Unavailable("down", 1, errors.New("dial")), 503, "SERVICE_UNAVAILABLE", "down", [2]string{"Retry-After", "1"}},
		{"deadline is a 504", fmt.Errorf("call mlflow: %w", context.DeadlineExceeded), 504, "TIMEOUT", "the request took too long", [2]string{}},
		{"anything else is a 500 without its text", errors.New("secret internal detail"), 500, "INTERNAL_ERROR", "internal error", [2]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpapi.WriteError(rec, httptest.NewRequest("GET", "/", nil), tc.err)
			if rec.Code != tc.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body not JSON: %s", rec.Body)
			}
			if body["error"] != tc.wantCode {
				t.Errorf("error %v, want %v", body["error"], tc.wantCode)
			}
			if fmt.Sprint(body["detail"]) != fmt.Sprint(tc.wantDetail) {
				t.Errorf("detail %v, want %v", body["detail"], tc.wantDetail)
			}
			if tc.wantHeader[0] != "" && rec.Header().Get(tc.wantHeader[0]) != tc.wantHeader[1] {
				t.Errorf("header %s = %q", tc.wantHeader[0], rec.Header().Get(tc.wantHeader[0]))
			}
		})
	}
}

func TestErrorExtraFieldsReachTheBody(t *testing.T) {
	e := httpapi.NewError(403, "FORBIDDEN", "write scope required")
	e.Extra = map[string]any{"required_scope": "write", "current_scopes": []string{"model:read"}}
	rec := httptest.NewRecorder()
	httpapi.WriteError(rec, httptest.NewRequest("GET", "/", nil), e)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if body["required_scope"] != "write" || body["current_scopes"] == nil {
		t.Errorf("extra fields missing: %s", rec.Body)
	}
}

func TestMuxAnswersMissesInJSON(t *testing.T) {
	m := httpapi.NewMux()
	m.HandleFunc("GET /things", func(w http.ResponseWriter, _ *http.Request) { httpapi.WriteJSON(w, 200, map[string]int{"n": 1}) })
	m.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, 200, map[string]string{"id": r.PathValue("id")})
	})
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
		allow        string
	}{
		{"GET", "/things", 200, "", ""},
		{"GET", "/things/42", 200, "", ""},
		{"GET", "/nothing", 404, "NOT_FOUND", ""},
		{"POST", "/things", 405, "METHOD_NOT_ALLOWED", "GET, HEAD"},
	} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
		if tc.path == "/things/42" && rec.Body.String() != `{"id":"42"}` {
			t.Errorf("path value lost: %s", rec.Body)
		}
		if tc.code != "" {
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != tc.code {
				t.Errorf("%s %s: body %s", tc.method, tc.path, rec.Body)
			}
		}
		if rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, rec.Header().Get("Allow"), tc.allow)
		}
	}
}

func TestEndpoint(t *testing.T) {
	h := httpapi.Endpoint(func(_ http.ResponseWriter, r *http.Request) (int, any, error) {
		if r.URL.Path == "/bad" {
			return 0, nil, httpapi.NotFound("no such thing")
		}
		return 201, map[string]string{"ok": "yes"}, nil
	})
	for path, want := range map[string]string{"/good": `{"ok":"yes"}`, "/bad": `{"detail":"no such thing","error":"NOT_FOUND"}`} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// A path the router would clean or complete (dot segments, doubled slashes, a missing trailing
// slash) is answered in JSON, never with ServeMux's redirect and its HTML body: a redirect would
// send a client's key to the cleaned path, and an API has no pages to move to.
func TestMuxNeverRedirects(t *testing.T) {
	m := httpapi.NewMux()
	m.Handle("GET /api/keys", httpapi.Endpoint(func(http.ResponseWriter, *http.Request) (int, any, error) {
		return 200, "list", nil
	}))
	m.Handle("DELETE /api/keys/{key_id}", httpapi.Endpoint(func(_ http.ResponseWriter, r *http.Request) (int, any, error) {
		return 200, r.PathValue("key_id"), nil
	}))
	m.HandleFunc("GET /tree/", func(w http.ResponseWriter, _ *http.Request) { httpapi.WriteJSON(w, 200, "tree") })
	for _, tc := range []struct {
		method, path string
		status       int
		body         string // exact body when set; otherwise the error code
		code         string
	}{
		// Decoded forms (what a gateway that decodes the path hands over).
		{"GET", "/api/keys/..", 404, "", "NOT_FOUND"},
		{"DELETE", "/api/keys/..", 404, "", "NOT_FOUND"},
		{"GET", "/api/keys/.", 404, "", "NOT_FOUND"},
		{"DELETE", "/api/keys/.", 404, "", "NOT_FOUND"},
		{"DELETE", "/api/keys/a/../b", 404, "", "NOT_FOUND"},
		{"DELETE", "/api/keys/a/b", 404, "", "NOT_FOUND"},
		{"GET", "//api/keys", 404, "", "NOT_FOUND"},
		{"GET", "/api//keys", 404, "", "NOT_FOUND"},
		{"GET", "/api/keys/", 404, "", "NOT_FOUND"},
		{"GET", "/tree", 404, "", "NOT_FOUND"},
		{"GET", "/tree/./x", 404, "", "NOT_FOUND"},
		// Encoded forms (API Gateway passes the path as the client encoded it): one segment each.
		{"DELETE", "/api/keys/%2e%2e", 200, `"%2e%2e"`, ""},
		{"DELETE", "/api/keys/%2E%2E", 200, `"%2E%2E"`, ""},
		{"DELETE", "/api/keys/a%2fb", 200, `"a%2fb"`, ""},
		{"DELETE", "/api/keys/%252e%252e", 200, `"%252e%252e"`, ""},
		{"DELETE", "/api/keys/abc.", 200, `"abc."`, ""},
		{"GET", "/api/keys/%2e%2e", 405, "", "METHOD_NOT_ALLOWED"},
		{"GET", "/tree/x", 200, `"tree"`, ""},
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(tc.method, "/", nil)
		r.URL.Path = tc.path // set, not parsed, as the API Gateway adapter does
		m.ServeHTTP(rec, r)
		if rec.Code != tc.status || rec.Header().Get("Location") != "" {
			t.Errorf("%s %s: status %d Location %q, want %d and none", tc.method, tc.path, rec.Code, rec.Header().Get("Location"), tc.status)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: content type %q, body %q", tc.method, tc.path, ct, rec.Body)
		}
		var body map[string]any
		switch {
		case tc.body != "":
			if rec.Body.String() != tc.body {
				t.Errorf("%s %s: body %s, want %s", tc.method, tc.path, rec.Body, tc.body)
			}
		case json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] != tc.code:
			t.Errorf("%s %s: body %s, want error %s", tc.method, tc.path, rec.Body, tc.code)
		}
	}
}

// No answer of the router, nor any error detail, echoes a key pasted into the path.
func TestErrorsDoNotEchoKeys(t *testing.T) {
	key, err := apikey.Generate("live")
	if err != nil {
		t.Fatal(err)
	}
	m := httpapi.NewMux()
	m.HandleFunc("GET /api/keys", func(http.ResponseWriter, *http.Request) {})
	m.HandleFunc("DELETE /api/keys/{key_id}", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, httpapi.NotFound("no key "+r.PathValue("key_id")))
	})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/" + key},                       // 404
		{"POST", "/api/keys/" + key},             // 405
		{"DELETE", "/api/keys/" + key},           // the handler's own message
		{"DELETE", "/api/keys/" + key + "/x"},    // 404
		{"PUT", "/api/keys/x" + key},             // 405, key inside a segment
		{"DELETE", "/api/keys/" + key + "/../x"}, // would have been a redirect
		// r.URL.Path is decoded once; the client may have encoded the key twice or more.
		{"GET", "/" + strings.Replace(key, "_", "%5F", 1)},                // 404
		{"POST", "/api/keys/" + strings.Replace(key, "_", "%5F", 2)},      // 405
		{"PUT", "/api/keys/" + strings.Replace(key, "hk", "h%25256B", 1)}, // 405, three more layers
	} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(tc.method, "/", nil)
		r.URL.Path = tc.path
		m.ServeHTTP(rec, r)
		secret := key[len("hk_live_"):]
		if strings.Contains(rec.Body.String(), secret) || strings.Contains(fmt.Sprint(rec.Header()), secret) {
			t.Errorf("%s %s: the key came back: %d %s", tc.method, tc.path, rec.Code, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), "hk_live_[REDACTED]") {
			t.Errorf("%s %s: %d %s does not say where the key was", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
	// A validation list is redacted field by field as well.
	rec := httptest.NewRecorder()
	httpapi.WriteError(rec, httptest.NewRequest("GET", "/", nil),
		httpapi.Validation(httpapi.FieldError{Field: key, Message: "unknown field " + key}))
	if strings.Contains(rec.Body.String(), key[8:]) {
		t.Errorf("validation detail echoed the key: %s", rec.Body)
	}
}

// TestShownPath: the path as a message may quote it, decoded layer after layer, then redacted.
func TestShownPath(t *testing.T) {
	key, err := apikey.Generate("test")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/api/keys/k-1":    "/api/keys/k-1",
		"/a%20b":           "/a b",
		"/a%2520b":         "/a b",
		"/bad%zzescape%41": "/bad%zzescapeA", // a bad escape kept, the valid one after it decoded
		"/" + key:          "/hk_test_[REDACTED]",
		"/" + strings.Replace(key, "_", "%5F", 2):           "/hk_test_[REDACTED]",
		"/" + strings.Replace(key, "_", "%255F", 1):         "/hk_test_[REDACTED]",
		"/x/" + strings.Replace(key, "h", "%2525252568", 1): "/x/hk_test_[REDACTED]",
		"/\xff": "/?",
	} {
		if got := httpapi.ShownPath(in); got != want {
			t.Errorf("ShownPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMux: whatever the method and path, the router answers JSON, never a redirect, and never
// echoes a key-shaped part of the path.
func FuzzMux(f *testing.F) {
	for _, seed := range []string{"/api/keys", "/api/keys/..", "/api/keys/%2e%2e", "//api/keys", "/api/keys/.",
		"/api/keys/a/../b", "/tree", "/api/keys/hk_live_0123456789abcdefghijABCDEFGHIJ", "/x/hk_test_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/.."} {
		f.Add("GET", seed)
		f.Add("DELETE", seed)
	}
	m := httpapi.NewMux()
	m.HandleFunc("GET /api/keys", func(w http.ResponseWriter, _ *http.Request) { httpapi.WriteJSON(w, 200, "list") })
	m.HandleFunc("DELETE /api/keys/{key_id}", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, r, httpapi.NotFound("no key "+r.PathValue("key_id")))
	})
	m.HandleFunc("GET /tree/", func(w http.ResponseWriter, _ *http.Request) { httpapi.WriteJSON(w, 200, "tree") })
	keyShaped := regexp.MustCompile(`hk_(live|test|dev)_[A-Za-z0-9]`)
	f.Fuzz(func(t *testing.T, method, path string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Method, r.URL.Path = method, path
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		if rec.Code >= 300 && rec.Code < 400 || rec.Header().Get("Location") != "" {
			t.Fatalf("%q %q: redirect %d to %q", method, path, rec.Code, rec.Header().Get("Location"))
		}
		if rec.Header().Get("Content-Type") != "application/json" || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%q %q: %d not JSON: %q", method, path, rec.Code, rec.Body)
		}
		if rec.Code != 200 && keyShaped.Match(rec.Body.Bytes()) {
			t.Fatalf("%q %q: key-shaped text in %s", method, path, rec.Body)
		}
	})
}
