package audit_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
)

const (
	key    = "hk_live_0123456789abcdefghijABCDEFGHIJ0123456789"
	secret = "0123456789abcdefghij"
)

// Every text field of a record may carry client text; a key in any of them never reaches the line.
func TestNoKeyInAnyField(t *testing.T) {
	fields := map[string]func(r *audit.Record){
		"request_id":    func(r *audit.Record) { r.RequestID = key },
		"function":      func(r *audit.Record) { r.Function = key },
		"user_id":       func(r *audit.Record) { r.UserID = "u-" + key },
		"key_id":        func(r *audit.Record) { r.KeyID = key },
		"operation":     func(r *audit.Record) { r.Operation = key },
		"resource.kind": func(r *audit.Record) { r.Resource.Kind = key },
		"resource.id":   func(r *audit.Record) { r.Resource.ID = "model " + key + " x" },
		"method":        func(r *audit.Record) { r.Method = key },
		"reason":        func(r *audit.Record) { r.Reason = key },
		"outcome":       func(r *audit.Record) { r.Outcome = audit.Outcome(key) },
	}
	for name, set := range fields {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			rec := audit.Record{Operation: "CreateRegisteredModel", Status: 200, Outcome: audit.Allowed}
			set(&rec)
			if err := audit.NewWriter(&buf, "test").Write(rec); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if strings.Contains(out, secret) {
				t.Fatalf("key in the line: %s", out)
			}
			if !strings.Contains(out, "hk_live_[REDACTED]") {
				t.Errorf("no redaction marker: %s", out)
			}
			if !audit.Is(bytes.TrimSpace(buf.Bytes())) {
				t.Errorf("not an audit line: %s", out)
			}
		})
	}
}

func TestLineShape(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2025, 3, 4, 5, 6, 7, 8, time.FixedZone("x", 3600))
	err := audit.NewWriter(&buf, "mlflowproxy").Write(audit.Record{
		Time: at, RequestID: "req-1", UserID: "u1", KeyID: "k1", Operation: "DeleteRun",
		Resource: audit.Resource{Kind: "run", ID: "abc"}, Method: "POST", Outcome: audit.Refused, Status: 403, Reason: "PERMISSION_DENIED",
	})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 || !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		t.Fatalf("not one line: %q", buf.String())
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"hokusai_audit": "v1", "time": "2025-03-04T04:06:07.000000008Z", "request_id": "req-1", "function": "mlflowproxy",
		"user_id": "u1", "key_id": "k1", "operation": "DeleteRun", "resource": map[string]any{"kind": "run", "id": "abc"},
		"method": "POST", "outcome": "refused", "status": float64(403), "reason": "PERMISSION_DENIED",
	}
	if a, b := js(got), js(want); a != b {
		t.Errorf("got  %s\nwant %s", a, b)
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestLongFieldsAreClipped(t *testing.T) {
	line, err := audit.Line(audit.Record{Resource: audit.Resource{ID: strings.Repeat("é", 100000)}, Operation: "\xff\xfe"})
	if err != nil {
		t.Fatal(err)
	}
	if len(line) > 4096 {
		t.Errorf("line of %d bytes", len(line))
	}
	if !json.Valid(line) || !audit.Is(bytes.TrimSpace(line)) {
		t.Errorf("not a valid audit line: %.200s", line)
	}
}

func TestIsSelectsOnlyMarkedLines(t *testing.T) {
	for line, want := range map[string]bool{
		`{"hokusai_audit":"v1","x":1}`:                         true,
		`{"hokusai_audit":"v2"}`:                               false,
		`{"HOKUSAI_AUDIT":"v1"}`:                               false,
		`{"msg":"x","attrs":{"hokusai_audit":"v1"}}`:           false,
		`{"hokusai_audit":1}`:                                  false,
		`{"time":"t","level":"INFO","msg":"hokusai_audit v1"}`: false,
		`not json "hokusai_audit":"v1"`:                        false,
		``:                                                     false,
	} {
		if got := audit.Is([]byte(line)); got != want {
			t.Errorf("Is(%s) = %v, want %v", line, got, want)
		}
	}
}

func TestConcurrentWritesStayWholeLines(t *testing.T) {
	var buf bytes.Buffer
	w := audit.NewWriter(&buf, "f")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Write(audit.Record{Status: i}) }()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if !audit.Is([]byte(l)) {
			t.Errorf("broken line %q", l)
		}
	}
}

func TestResponseReason(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"mlflow", 403, `{"error_code":"PERMISSION_DENIED","message":"needs EDIT"}`, "PERMISSION_DENIED"},
		{"gateway", 409, `{"detail":"x","error":"IDEMPOTENCY_KEY_REUSED"}`, "IDEMPOTENCY_KEY_REUSED"},
		{"success has none", 200, `{"error_code":"X"}`, ""},
		{"not json", 404, `<html>`, ""},
		{"not a code", 400, `{"error_code":"` + key + `"}`, ""},
		{"lower case", 400, `{"error_code":"oops"}`, ""},
		{"number", 400, `{"error_code":5}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := audit.NewResponse(rec)
			r.WriteHeader(tc.status)
			_, _ = r.Write([]byte(tc.body[:len(tc.body)/2]))
			_, _ = r.Write([]byte(tc.body[len(tc.body)/2:]))
			if r.Status() != tc.status || r.Reason() != tc.want {
				t.Errorf("status %d reason %q, want %d %q", r.Status(), r.Reason(), tc.status, tc.want)
			}
			if rec.Body.String() != tc.body {
				t.Errorf("body changed: %q", rec.Body.String())
			}
		})
	}
	r := audit.NewResponse(httptest.NewRecorder())
	_, _ = r.Write([]byte("ok"))
	if r.Status() != http.StatusOK {
		t.Errorf("implicit status %d", r.Status())
	}
}
