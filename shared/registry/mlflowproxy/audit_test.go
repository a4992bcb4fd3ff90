package mlflowproxy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
)

// auditLog collects the records the proxy writes, as the audit lines on stdout would carry them.
type auditLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   *audit.Writer
}

func newAuditLog() *auditLog {
	l := &auditLog{}
	l.w = audit.NewWriter(&lockedBuffer{l}, "mlflowproxy")
	return l
}

type lockedBuffer struct{ l *auditLog }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.l.mu.Lock()
	defer b.l.mu.Unlock()
	return b.l.buf.Write(p)
}

func (l *auditLog) Write(r audit.Record) error { return l.w.Write(r) }

// take returns the records written since the last take, and the raw text.
func (l *auditLog) take(t *testing.T) ([]audit.Record, string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	raw := l.buf.String()
	l.buf.Reset()
	var out []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(raw), "\n") {
		if line == "" {
			continue
		}
		if !audit.Is([]byte(line)) {
			t.Fatalf("not an audit line: %s", line)
		}
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out, raw
}

// Every write, with its outcome, and every refusal is audited once, naming who, what, which
// resource and the request; a read that succeeds, or that MLflow answers 404, is not.
func TestAuditRecordsWritesAndRefusals(t *testing.T) {
	log := newAuditLog()
	h := newProxy(t, realMLflow(t), nil).WithAudit(log)
	name := fmt.Sprintf("audit-%d", time.Now().UnixNano())
	const key = "hk_live_0123456789abcdefghijABCDEFGHIJ0123456789"
	type want struct {
		op, kind, id string
		outcome      audit.Outcome
		status       int
		reason       string
	}
	for _, tc := range []struct {
		name   string
		caller principal.Principal
		method string
		path   string
		body   any
		want   *want // nil: no record
	}{
		{"a write MLflow accepts", writer, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/create", map[string]any{"name": name},
			&want{"CreateRegisteredModel", "registered_model", name, audit.Allowed, 200, ""}},
		{"a write MLflow refuses", writer, "POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": name},
			&want{"CreateRegisteredModel", "registered_model", name, audit.Refused, 400, "RESOURCE_ALREADY_EXISTS"}},
		{"a read key writing", reader, "DELETE", "/api/2.0/mlflow/registered-models/delete", map[string]any{"name": name},
			&want{"DeleteRegisteredModel", "registered_model", name, audit.Refused, 403, "PERMISSION_DENIED"}},
		{"a model version, by name and version", writer, "DELETE", "/api/2.0/mlflow/model-versions/delete", map[string]any{"name": name, "version": "7"},
			&want{"DeleteModelVersion", "model_version", name + "/7", audit.Refused, 404, "RESOURCE_DOES_NOT_EXIST"}},
		{"a read", reader, "GET", "/api/2.0/mlflow/registered-models/get?name=" + name, nil, nil},
		{"a read MLflow answers 404", reader, "GET", "/api/2.0/mlflow/registered-models/get?name=missing-" + name, nil, nil},
		{"a search through POST", reader, "POST", "/api/2.0/mlflow/runs/search", map[string]any{"experiment_ids": []string{"0"}}, nil},
		{"an internal endpoint", writer, "GET", "/api/2.0/mlflow/jobs/list", nil,
			&want{"", "", "", audit.Refused, 404, "ENDPOINT_NOT_FOUND"}},
		{"a key in the query", reader, "GET", "/api/2.0/mlflow/registered-models/get?name=" + name + "&token=" + key, nil,
			&want{"GetRegisteredModel", "registered_model", name, audit.Refused, 400, "INVALID_PARAMETER_VALUE"}},
		{"a key as the resource id", reader, "POST", "/api/2.0/mlflow/registered-models/rename", map[string]any{"name": key, "new_name": "x"},
			&want{"RenameRegisteredModel", "registered_model", "hk_live_[REDACTED]", audit.Refused, 403, "PERMISSION_DENIED"}},
		{"a write MLflow accepts, last", writer, "DELETE", "/api/2.0/mlflow/registered-models/delete", map[string]any{"name": name},
			&want{"DeleteRegisteredModel", "registered_model", name, audit.Allowed, 200, ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != nil {
				body = jsonBody(tc.body)
			}
			status, _, _ := do(t, h, tc.method, tc.path, body, tc.caller, http.Header{"Content-Type": {"application/json"}})
			recs, raw := log.take(t)
			if strings.Contains(raw, "0123456789abcdefghij") {
				t.Fatalf("a key in the audit log: %s", raw)
			}
			if tc.want == nil {
				if len(recs) != 0 {
					t.Fatalf("status %d audited: %s", status, raw)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("status %d: %d records: %s", status, len(recs), raw)
			}
			r := recs[0]
			got := want{r.Operation, r.Resource.Kind, r.Resource.ID, r.Outcome, r.Status, r.Reason}
			if got != *tc.want {
				t.Errorf("record %+v\nwant        %+v", got, *tc.want)
			}
			if r.Status != status {
				t.Errorf("recorded %d, answered %d", r.Status, status)
			}
			if r.UserID != tc.caller.UserID || r.KeyID != tc.caller.KeyID || r.RequestID != "req-1" || r.Method != tc.method ||
				r.Function != "mlflowproxy" || r.Time.IsZero() {
				t.Errorf("who/when missing: %+v", r)
			}
		})
	}
}

// What a write body is read for stays what MLflow receives, byte for byte, however large.
func TestAuditLeavesTheBodyAsSent(t *testing.T) {
	for _, size := range []int{10, 64 << 10, 64<<10 + 1, 300 << 10} {
		up := newRecorder(t, nil)
		log := newAuditLog()
		h := newProxy(t, up.URL, nil).WithAudit(log)
		body := []byte(`{"run_id":"r1","metrics":[` + strings.Repeat(" ", size) + `]}`)
		status, _, _ := do(t, h, "POST", "/api/2.0/mlflow/runs/log-batch", body, writer, nil)
		if status != 200 || !bytes.Equal(up.last(t).Body, body) {
			t.Fatalf("size %d: status %d, MLflow got %d bytes of %d", size, status, len(up.last(t).Body), len(body))
		}
		recs, _ := log.take(t)
		wantID := "r1"
		if len(body) > 64<<10 {
			wantID = "" // not read whole: no id from a part of it
		}
		if len(recs) != 1 || recs[0].Operation != "LogBatch" || recs[0].Resource != (audit.Resource{Kind: "run", ID: wantID}) {
			t.Errorf("size %d: %+v", size, recs)
		}
	}
}

// MLflow's failure of a write is recorded as failed, with the status the client got.
func TestAuditFailedWrite(t *testing.T) {
	up := newRecorder(t, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", http.StatusBadGateway) })
	log := newAuditLog()
	h := newProxy(t, up.URL, nil).WithAudit(log)
	status, _, _ := do(t, h, "POST", "/api/2.0/mlflow/experiments/delete", jsonBody(map[string]any{"experiment_id": "12"}), writer, nil)
	recs, raw := log.take(t)
	if len(recs) != 1 || recs[0].Outcome != audit.Failed || recs[0].Status != status || status != 502 ||
		recs[0].Resource != (audit.Resource{Kind: "experiment", ID: "12"}) || recs[0].Reason != "INTERNAL_ERROR" {
		t.Errorf("status %d: %s", status, raw)
	}
}
