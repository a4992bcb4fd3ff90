package webhook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/webhook"
)

// FuzzWebhookDecode feeds arbitrary SQS message bodies to the conversion into a webhook request.
// It never panics; it either refuses the body as an invalid event (a permanent failure: the
// handler dead-letters and logs it) or produces a request whose header values are safe and whose
// body is the documented payload.
func FuzzWebhookDecode(f *testing.F) {
	for _, dt := range events.DetailTypes {
		f.Add(events.Example(dt))
	}
	f.Add([]byte(envelope(f, events.ModelRegistered, events.NewDetail(events.ModelRegistered, events.Detail{
		ModelID: "m/1/T", TokenSymbol: "T", MetricName: "mse", ModelName: "m", ModelVersion: "1",
		ProposalIdentifier: "T", Timestamp: "2026-01-15T10:30:00Z", UserID: "u", RegistrationID: "r",
	}))))
	for _, s := range []string{"", "null", "{}", "[]", `{"source":"hokusai.registry","detail-type":"model_registered","detail":{}}`,
		`{"source":"hokusai.registry","detail-type":"model_registered","detail":null}`, "\xff\xfe", `{"detail":{"api_schema":1e400}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := webhook.Decode(body)
		if err != nil {
			if !errors.Is(err, webhook.ErrInvalidEvent) {
				t.Fatalf("refusal is not an invalid event: %v", err)
			}
			return
		}
		if _, perr := uuid.Parse(d.EventID); perr != nil || strings.ContainsAny(d.EventID, "\r\n") {
			t.Fatalf("event id %q is not a safe header value", d.EventID)
		}
		if !slices.Contains(events.DetailTypes, d.DetailType) {
			t.Fatalf("detail type %q", d.DetailType)
		}
		var p webhook.Payload
		dec := json.NewDecoder(bytes.NewReader(d.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("body %s: %v", d.Body, err)
		}
		if p.EventType != d.DetailType || p.Source != "mlflow" || p.Model.ID == "" || p.Model.ID != strings.ToLower(p.Model.ID) ||
			p.Model.Status != "registered" || p.Model.Name == "" || p.Model.Version == "" {
			t.Fatalf("payload %+v", p)
		}
		if bytes.Contains(d.Body, []byte(":null")) {
			t.Fatalf("optional field sent as null: %s", d.Body)
		}
	})
}
