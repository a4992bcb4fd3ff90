// Package audit is the gateway's audit trail: one JSON record per write and per refusal (who,
// which operation on which resource, the outcome, the request id), written as a line of its own on
// the function's stdout beside its logs. The line carries Marker as a top-level member, so the
// CloudWatch Logs subscription filter FilterPattern selects exactly these lines and hands them to
// the audit function (functions/audit), which copies them into the audit log group off the
// request path. A record never holds a key, a body or a header value: it has no field for one,
// and the rendered line is redacted as the logs are (logging.Redacted) behind that.
package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// MarkerField and MarkerValue mark an audit line: no log line of the slog logger has this member
// (its top-level members are time, level, msg, function and the attributes the code names).
const (
	MarkerField = "hokusai_audit"
	MarkerValue = "v1"
)

// FilterPattern is the CloudWatch Logs subscription filter pattern (JSON form) that selects the
// audit lines of a function's log group and nothing else.
const FilterPattern = `{ $.` + MarkerField + ` = "` + MarkerValue + `" }`

// Outcome is what became of the call.
type Outcome string

// Outcomes.
const (
	// Allowed: the gateway let the call through and it succeeded.
	Allowed Outcome = "allowed"
	// Refused: the gateway refused it (authorization, permission, admission), or MLflow answered
	// the write with a 4xx.
	Refused Outcome = "refused"
	// Failed: the gateway let it through and it failed on the server side (a 5xx, a timeout):
	// the write may or may not have been made.
	Failed Outcome = "failed"
)

// OutcomeOf is the outcome a final HTTP status means.
func OutcomeOf(status int) Outcome {
	switch {
	case status >= 500:
		return Failed
	case status >= 400:
		return Refused
	}
	return Allowed
}

// Resource is what the call addresses: its kind ("registered_model", "experiment", "run", …)
// and id (an experiment id, a model name as sent); either may be empty when the request did
// not say.
type Resource struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Record is one audited call.
type Record struct {
	Marker    string    `json:"hokusai_audit"`
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Function  string    `json:"function"`
	UserID    string    `json:"user_id"`
	KeyID     string    `json:"key_id"`
	// Operation is the catalog's name of the call (MLflow's RPC name, "RegisterModel", …).
	Operation string   `json:"operation"`
	Resource  Resource `json:"resource"`
	Method    string   `json:"method"`
	Outcome   Outcome  `json:"outcome"`
	Status    int      `json:"status"`
	// Reason is the error code of a refusal or failure ("PERMISSION_DENIED"), empty on success.
	Reason string `json:"reason,omitempty"`
}

// fieldLimit bounds every text field of a record, in bytes: ids and names come from the client,
// and one CloudWatch Logs event holds at most 256 KB.
const fieldLimit = 1024

// Writer writes records as JSON lines, one Write each, safe for concurrent use.
type Writer struct {
	mu       sync.Mutex
	w        io.Writer
	function string
	now      func() time.Time
}

// NewWriter writes function's records to w (the function's stdout).
func NewWriter(w io.Writer, function string) *Writer {
	return &Writer{w: w, function: function, now: time.Now}
}

// Write renders rec, marked and stamped (Time and Function when unset), as one redacted line.
func (w *Writer) Write(rec Record) error {
	if w == nil {
		return nil
	}
	if rec.Time.IsZero() {
		rec.Time = w.now()
	}
	rec.Time = rec.Time.UTC()
	if rec.Function == "" {
		rec.Function = w.function
	}
	line, err := Line(rec)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.w.Write(line)
	return err
}

// Line is rec as the line Write writes: marked, JSON, every text field clipped to valid UTF-8 of at
// most fieldLimit bytes, key-shaped text redacted, ending in a newline.
func Line(rec Record) ([]byte, error) {
	rec.Marker = MarkerValue
	for _, s := range []*string{&rec.RequestID, &rec.Function, &rec.UserID, &rec.KeyID, &rec.Operation,
		&rec.Resource.Kind, &rec.Resource.ID, &rec.Method, &rec.Reason, (*string)(&rec.Outcome)} {
		*s = clip(*s)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("audit record: %w", err)
	}
	// Redacted on the rendered line, as the logs are: JSON escapes none of a key's characters.
	return append([]byte(logging.Redacted(string(b))), '\n'), nil
}

func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= fieldLimit {
		return s
	}
	s = s[:fieldLimit]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Is reports whether line is an audit line: a JSON object whose MarkerField is MarkerValue, which
// is what FilterPattern selects.
func Is(line []byte) bool {
	// A map, not a struct: encoding/json matches struct fields case-insensitively, CloudWatch
	// Logs member names exactly.
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return false
	}
	var v string
	return json.Unmarshal(m[MarkerField], &v) == nil && v == MarkerValue
}
