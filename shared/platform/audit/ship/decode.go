// Package ship is the audit function's logic: it decodes the CloudWatch Logs subscription events
// that carry the functions' audit lines (audit.FilterPattern) and writes the lines into the audit
// log group with PutLogEvents, in batches within that call's limits.
package ship

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding"
)

// Message types of a subscription payload: CloudWatch Logs sends a CONTROL_MESSAGE to check the
// destination is reachable, and DATA_MESSAGE with log events.
const (
	DataMessage    = "DATA_MESSAGE"
	ControlMessage = "CONTROL_MESSAGE"
)

// Payload is the decoded awslogs.data of a subscription event.
type Payload struct {
	MessageType         string     `json:"messageType"`
	Owner               string     `json:"owner"`
	LogGroup            string     `json:"logGroup"`
	LogStream           string     `json:"logStream"`
	SubscriptionFilters []string   `json:"subscriptionFilters"`
	LogEvents           []LogEvent `json:"logEvents"`
}

// LogEvent is one log line that matched the filter; Timestamp is in milliseconds since the epoch.
type LogEvent struct {
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// MaxPayload bounds the decompressed payload. Lambda takes at most 6 MB of event (base64 of the
// gzip); CloudWatch Logs' own batches are far smaller, and a payload past this is refused rather
// than inflated without end.
const MaxPayload = 32 << 20

// Decode reads awslogs.data: base64 of a gzip of the JSON Payload.
func Decode(data string) (Payload, error) {
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return Payload{}, fmt.Errorf("awslogs data is not base64: %w", err)
	}
	text, err := contentcoding.Decode(raw, "gzip", MaxPayload)
	if err != nil {
		return Payload{}, fmt.Errorf("awslogs data: %w", err)
	}
	var p Payload
	if err := json.Unmarshal(text, &p); err != nil {
		return Payload{}, fmt.Errorf("awslogs data is not the subscription JSON: %w", err)
	}
	switch p.MessageType {
	case DataMessage, ControlMessage:
	default:
		return Payload{}, fmt.Errorf("awslogs data: unknown messageType %q", p.MessageType)
	}
	if p.MessageType == DataMessage && p.LogGroup == "" {
		return Payload{}, errors.New("awslogs data: a DATA_MESSAGE without logGroup")
	}
	return p, nil
}

// Encode is Decode's inverse: what CloudWatch Logs sends as awslogs.data (and the local
// harness, in its place).
func Encode(p Payload) (string, error) {
	text, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(text); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}
