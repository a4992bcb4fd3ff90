package events

import (
	"encoding/json"
	"time"
)

// StatusRegistered is every detail's status.
const StatusRegistered = "registered"

// NewDetail returns d completed as the detail of detailType, so both details of one registration
// are built the same way from the same fields:
//
//   - event_id is EventID(detailType, d.ModelID, d.MLflowRunID, d.ModelVersion), so every
//     publication of this event (the first, the outbox's, a repeated request's) carries the same id;
//   - status is "registered" and message_version is MessageVersion;
//   - model_uri defaults to models:/<model_name>/<model_version>;
//   - tags is {} rather than null when there are none (the schema has no null for it);
//   - timestamp, when it parses as RFC 3339, is rewritten in UTC; build it with Timestamp.
//
// Everything else is the caller's, already validated by the request rules of SPEC section 5;
// the schemas (Schema) say what a valid detail is.
func NewDetail(detailType string, d Detail) Detail {
	d.Status = StatusRegistered
	d.MessageVersion = MessageVersion
	d.EventID = EventID(detailType, d.ModelID, d.MLflowRunID, d.ModelVersion)
	if d.ModelURI == "" {
		d.ModelURI = "models:/" + d.ModelName + "/" + d.ModelVersion
	}
	if d.Tags == nil {
		d.Tags = map[string]string{}
	}
	if t, err := time.Parse(time.RFC3339Nano, d.Timestamp); err == nil {
		d.Timestamp = Timestamp(t)
	}
	return d
}

// Timestamp formats t as a detail's timestamp: RFC 3339 in UTC, fractional seconds only when
// present. Use the registration's time, not the publication's, so that re-published details are
// byte-for-byte the first ones.
func Timestamp(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// Envelope is an event as EventBridge delivers it to a rule's target (an SQS message body, a
// Lambda event, an archive replay), around its detail D.
type Envelope[D any] struct {
	Version    string    `json:"version"`
	ID         string    `json:"id"` // EventBridge's id, new on every publication: de-duplicate on Detail.EventID
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Account    string    `json:"account"`
	Time       time.Time `json:"time"`
	Region     string    `json:"region"`
	Resources  []string  `json:"resources"`
	Detail     D         `json:"detail"`
}

// Event is a registration event (model_registered, model_ready_to_deploy) as delivered.
type Event = Envelope[Detail]

// MarshalDetail is the JSON a detail is published as (regstore.Event.Detail holds it).
func MarshalDetail(d Detail) (string, error) {
	b, err := json.Marshal(d)
	return string(b), err
}
