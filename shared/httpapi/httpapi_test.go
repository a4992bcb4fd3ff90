package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/httpapi"
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
