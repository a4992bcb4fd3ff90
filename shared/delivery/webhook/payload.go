package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/events/eventschema"
)

// Payload is the webhook body: the seed's "original MLflow event" format, which the Hokusai site
// parses. As in the seed, optional model fields are left out rather than sent as null.
type Payload struct {
	EventType string `json:"event_type"` // the detail type
	Model     Model  `json:"model"`
	Timestamp string `json:"timestamp"`
	Source    string `json:"source"` // always "mlflow"
}

// Model is the registered model as the webhook describes it.
type Model struct {
	ID              string          `json:"id"` // the token id, lower case
	Name            string          `json:"name"`
	Version         string          `json:"version"`
	Status          string          `json:"status"`
	RunID           string          `json:"run_id,omitempty"`
	UserID          string          `json:"user_id,omitempty"`
	APISchema       json.RawMessage `json:"api_schema,omitempty"`
	EvalSpec        *string         `json:"eval_spec,omitempty"`
	ScorerRef       *string         `json:"scorer_ref,omitempty"`
	PrimaryMetric   *string         `json:"primary_metric,omitempty"`
	BenchmarkSpecID *string         `json:"benchmark_spec_id,omitempty"`
}

// PayloadSource is Payload.Source.
const PayloadSource = "mlflow"

// Delivery is one webhook request, decoded from one SQS message.
type Delivery struct {
	EventID    string // X-Hokusai-Idempotency-Key
	DetailType string
	Body       []byte // exactly what is signed and sent
}

// ErrInvalidEvent wraps every reason Decode refuses a message; retrying cannot change its answer.
var ErrInvalidEvent = errors.New("invalid event")

// Decode turns an SQS message body (the EventBridge event, as a rule's SQS target receives it)
// into the webhook request. The detail must satisfy the contract's schema, so what reaches the
// receiver is what events/ promises (an event_id that is a UUID, a model with a name and
// version); api_schema is passed through as it is, its numbers never rounded through float64.
func Decode(body []byte) (Delivery, error) {
	var ev struct {
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return Delivery{}, fmt.Errorf("%w: not an EventBridge event: %v", ErrInvalidEvent, err)
	}
	if ev.Source != events.Source {
		return Delivery{}, fmt.Errorf("%w: source %q, want %s", ErrInvalidEvent, truncate(ev.Source, 64), events.Source)
	}
	if err := eventschema.Validate(ev.DetailType, ev.Detail); err != nil {
		return Delivery{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	var d struct {
		events.Detail
		APISchema json.RawMessage `json:"api_schema"`
	}
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		return Delivery{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if bytes.Equal(d.APISchema, []byte("null")) {
		d.APISchema = nil
	}
	out, err := json.Marshal(Payload{
		EventType: ev.DetailType,
		Model: Model{
			ID: strings.ToLower(d.TokenSymbol), Name: d.ModelName, Version: d.ModelVersion, Status: d.Status,
			RunID: d.MLflowRunID, UserID: d.UserID, APISchema: d.APISchema,
			EvalSpec: d.EvalSpec, ScorerRef: d.ScorerRef, PrimaryMetric: d.PrimaryMetric, BenchmarkSpecID: d.BenchmarkSpecID,
		},
		Timestamp: d.Timestamp,
		Source:    PayloadSource,
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return Delivery{EventID: d.EventID, DetailType: ev.DetailType, Body: out}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
