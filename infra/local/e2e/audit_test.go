package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
)

// auditGroup is the audit log group the stack gives the audit function.
func auditGroup(t *testing.T) string {
	t.Helper()
	fn, _ := h.Function("audit")
	if fn == nil || fn.Env["AUDIT_LOG_GROUP"] == "" {
		t.Fatal("the template has no audit function with AUDIT_LOG_GROUP")
	}
	return fn.Env["AUDIT_LOG_GROUP"]
}

// auditEvents reads every event of the audit group from moto.
func auditEvents(t *testing.T, logs *cloudwatchlogs.Client, group string) []string {
	t.Helper()
	var msgs []string
	p := cloudwatchlogs.NewFilterLogEventsPaginator(logs, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("FilterLogEvents %s: %v", group, err)
		}
		for _, e := range out.Events {
			msgs = append(msgs, aws.ToString(e.Message))
		}
	}
	return msgs
}

// A write, a refusal, a registration, a key's creation and revocation, and a refused revocation
// of a key pasted where its id belongs, through the gateway, each land as one audit record in
// moto's audit group, by way of the functions' output, the stack's subscription filters and
// the audit function, carrying who, what, on which resource, the outcome and the call's
// request id; no key and no body text is anywhere in the group.
func TestAuditRecordsReachTheAuditGroup(t *testing.T) {
	admin := adminKey(t)
	writer, writerID := createKey(t, admin, "e2e-audit-writer", "model:write", "mlflow:write")
	reader, readerID := createKey(t, admin, "e2e-audit-reader", "model:read", "mlflow:read")
	tag := uniqueToken("audit")
	name := "e2e-audited-" + tag
	bodySecret := "audit-body-text-" + tag

	type want struct {
		requestID, user, key, op, kind, id, outcome string
		status                                      int
		method                                      string
	}
	var wants []want

	create := fmt.Sprintf(`{"name":%q,"description":%q}`, name, bodySecret)
	hdr := map[string]string{"Authorization": "Bearer " + writer, "Content-Type": "application/json"}
	res, b := call(t, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/create", strings.NewReader(create), hdr)
	if res.StatusCode != 200 {
		t.Fatalf("create: %d %s", res.StatusCode, b)
	}
	wants = append(wants, want{res.Header.Get("X-Request-Id"), "e2e-audit-writer", writerID, "CreateRegisteredModel",
		"registered_model", name, "allowed", 200, "POST"})

	hdr["Authorization"] = "Bearer " + reader
	res, b = call(t, "POST", "/api/mlflow/api/2.0/mlflow/registered-models/create",
		strings.NewReader(fmt.Sprintf(`{"name":%q,"description":%q}`, name+"-refused", bodySecret)), hdr)
	if res.StatusCode != 403 {
		t.Fatalf("a read key writing: %d %s", res.StatusCode, b)
	}
	wants = append(wants, want{res.Header.Get("X-Request-Id"), "e2e-audit-reader", readerID, "CreateRegisteredModel",
		"registered_model", name + "-refused", "refused", 403, "POST"})

	logged := logThroughGateway(t, writer)
	token := uniqueToken("e2eaudit")
	res, b = postRegister(t, writer, registerBody(token, logged.RunID, map[string]any{"eval_spec": bodySecret}), "")
	if res.StatusCode != 201 {
		t.Fatalf("register: %d %s", res.StatusCode, b)
	}
	wants = append(wants, want{res.Header.Get("X-Request-Id"), "e2e-audit-writer", writerID, "RegisterModel",
		"registered_model", "hokusai-" + strings.ToUpper(token), "allowed", 201, "POST"})

	// The keys API: the key by its id, never the key, even where a client pasted it as the id.
	keysAdmin, keysAdminID := createKey(t, admin, "e2e-audit-keys-admin", "admin")
	res, b = call(t, "POST", "/api/keys", strings.NewReader(`{"user_id":"e2e-audit-keyholder","scopes":["model:read"]}`), bearer(keysAdmin))
	if res.StatusCode != 201 {
		t.Fatalf("create key: %d %s", res.StatusCode, b)
	}
	created := jsonBody(t, b)
	newKey, newKeyID := created["key"].(string), created["key_id"].(string)
	wants = append(wants, want{res.Header.Get("X-Request-Id"), "e2e-audit-keys-admin", keysAdminID, "CreateAPIKey",
		"api_key", newKeyID, "allowed", 201, "POST"})
	res, b = call(t, "DELETE", "/api/keys/"+newKeyID, nil, bearer(keysAdmin))
	if res.StatusCode != 200 {
		t.Fatalf("revoke key: %d %s", res.StatusCode, b)
	}
	wants = append(wants, want{res.Header.Get("X-Request-Id"), "e2e-audit-keys-admin", keysAdminID, "RevokeAPIKey",
		"api_key", newKeyID, "allowed", 200, "DELETE"})
	res, b = call(t, "DELETE", "/api/keys/"+newKey, nil, bearer(reader))
	if res.StatusCode != 404 {
		t.Fatalf("revoke by a pasted key: %d %s", res.StatusCode, b)
	}
	wants = append(wants, want{res.Header.Get("X-Request-Id"), "e2e-audit-reader", readerID, "RevokeAPIKey",
		"api_key", "", "refused", 404, "DELETE"})

	logs := cloudwatchlogs.NewFromConfig(h.AWSConfig())
	group := auditGroup(t)
	found := map[string]audit.Record{}
	var msgs []string
	// A bound on waiting for the asynchronous delivery, not a timing assertion.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		msgs = auditEvents(t, logs, group)
		for _, m := range msgs {
			var rec audit.Record
			if json.Unmarshal([]byte(m), &rec) == nil {
				for _, w := range wants {
					if rec.RequestID == w.requestID {
						found[w.requestID] = rec
					}
				}
			}
		}
		if len(found) == len(wants) || time.Now().After(deadline) {
			break
		}
	}
	for _, w := range wants {
		rec, ok := found[w.requestID]
		if w.requestID == "" || !ok {
			t.Errorf("no audit record with request id %q (%s); the group holds %d events", w.requestID, w.op, len(msgs))
			continue
		}
		if rec.UserID != w.user || rec.KeyID != w.key || rec.Operation != w.op || rec.Resource.Kind != w.kind ||
			rec.Resource.ID != w.id || string(rec.Outcome) != w.outcome || rec.Status != w.status || rec.Method != w.method ||
			rec.Time.IsZero() || rec.Marker != audit.MarkerValue {
			t.Errorf("%s: record %+v, want %+v", w.op, rec, w)
		}
		if w.outcome == "refused" && rec.Reason == "" {
			t.Errorf("%s: a refusal without its reason: %+v", w.op, rec)
		}
	}
	for _, m := range msgs {
		for _, leak := range []string{writer, reader, admin, keysAdmin, newKey, bodySecret, "Bearer"} {
			if strings.Contains(m, leak) {
				t.Errorf("the audit group holds %q: %s", leak[:min(len(leak), 12)], m)
			}
		}
		if !audit.Is([]byte(m)) {
			t.Errorf("the audit group holds a line that is no audit record: %s", m)
		}
	}
}
