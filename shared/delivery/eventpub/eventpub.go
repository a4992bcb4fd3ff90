// Package eventpub publishes a registration's events to the EventBridge bus.
package eventpub

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/backoff"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// API is the part of the EventBridge client the publisher uses; *eventbridge.Client satisfies it.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Defaults for the zero Publisher fields.
const (
	DefaultMaxAttempts = 3
	DefaultBaseDelay   = 100 * time.Millisecond
)

// maxEntries is PutEvents' limit on entries per call.
const maxEntries = 10

// Publisher sends events to one bus.
type Publisher struct {
	API API
	Bus string // EventBusName: name or ARN
	// MaxAttempts bounds the PutEvents calls per batch, the first included (0: DefaultMaxAttempts).
	MaxAttempts int
	// BaseDelay is the backoff before the first retry, doubled for each next one and jittered
	// (0: DefaultBaseDelay).
	BaseDelay time.Duration
}

// New returns a Publisher for bus with the default retry policy.
func New(api API, bus string) *Publisher { return &Publisher{API: api, Bus: bus} }

// Publish sends evs, a registration's events, in one PutEvents call (more only past PutEvents'
// ten entries) and returns the ids of the events that went out.
//
// EventBridge accepts or refuses each entry separately. Entries refused with a retryable code
// (ThrottlingException, InternalFailure), and only those, are sent again with exponential backoff, up to
// MaxAttempts calls and never past ctx's deadline; the others are not retried here. If any event
// did not go out, the error is a *FailedError and published holds the ones that did, so the
// caller can mark those and leave the rest to the outbox. A failed call (as opposed to refused
// entries) has already been retried by the SDK and is returned, wrapped, with what went out before it.
//
// Publish sends exactly the events it is given: choosing the pending ones is the caller's job.
func (p *Publisher) Publish(ctx context.Context, evs []regstore.Event) (published []string, err error) {
	var failed []Failure
	for chunk := range slices.Chunk(evs, maxEntries) {
		ok, f, err := p.publishBatch(ctx, chunk)
		published = append(published, ok...)
		failed = append(failed, f...)
		if err != nil {
			return published, err
		}
	}
	if len(failed) > 0 {
		return published, &FailedError{Failures: failed}
	}
	return published, nil
}

// publishBatch sends up to maxEntries events, retrying the ones refused for a transient reason.
func (p *Publisher) publishBatch(ctx context.Context, evs []regstore.Event) (published []string, failed []Failure, err error) {
	pending := evs
	for attempt := 1; ; attempt++ {
		refused, err := p.put(ctx, pending)
		if err != nil {
			return published, nil, err
		}
		var retry []regstore.Event
		var transient []Failure
		for i, ev := range pending {
			f, isRefused := refused[i]
			switch {
			case !isRefused:
				published = append(published, eventID(ev))
			case retryable(f.Code):
				retry, transient = append(retry, ev), append(transient, f)
			default:
				failed = append(failed, f) // the same entry would be refused again
			}
		}
		if len(retry) == 0 {
			return published, failed, nil
		}
		if attempt >= p.maxAttempts() || sleep(ctx, p.backoff(attempt)) != nil {
			return published, append(failed, transient...), nil
		}
		pending = retry
	}
}

// put makes one PutEvents call and returns the refused entries by their index in evs.
func (p *Publisher) put(ctx context.Context, evs []regstore.Event) (map[int]Failure, error) {
	entries := make([]types.PutEventsRequestEntry, len(evs))
	for i, ev := range evs {
		entries[i] = types.PutEventsRequestEntry{
			EventBusName: aws.String(p.Bus),
			Source:       aws.String(events.Source),
			DetailType:   aws.String(ev.DetailType),
			Detail:       aws.String(ev.Detail),
		}
	}
	out, err := p.API.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("PutEvents to %s: %w", p.Bus, err)
	}
	refused := map[int]Failure{}
	for i, ev := range evs {
		// The result entries are in request order; a missing one is a refusal we cannot explain.
		var code, msg string
		if i < len(out.Entries) {
			code, msg = aws.ToString(out.Entries[i].ErrorCode), aws.ToString(out.Entries[i].ErrorMessage)
		} else {
			code, msg = "MissingResultEntry", "PutEvents returned fewer result entries than it was sent"
		}
		if code != "" {
			refused[i] = Failure{EventID: eventID(ev), DetailType: ev.DetailType, Code: code, Message: msg}
		}
	}
	return refused, nil
}

// retryable reports whether EventBridge documents code as transient.
func retryable(code string) bool {
	return code == "ThrottlingException" || code == "InternalFailure"
}

func (p *Publisher) maxAttempts() int {
	if p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	return DefaultMaxAttempts
}

// backoff is the wait before retry n (n ≥ 1): BaseDelay·2^(n-1), the upper half jittered so that
// publishers throttled together do not come back together. MaxAttempts bounds n, so no cap.
func (p *Publisher) backoff(n int) time.Duration {
	base := p.BaseDelay
	if base <= 0 {
		base = DefaultBaseDelay
	}
	return backoff.EqualJitter(backoff.Exponential{Base: base}.Delay(n - 1))
}

// sleep waits d, or fails at once when ctx would end first: waiting into a deadline we know we
// cannot retry before is wasted time the caller may need.
func sleep(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// eventID is the event's id: the record's, or else the one its detail carries.
func eventID(ev regstore.Event) string {
	if ev.EventID != "" {
		return ev.EventID
	}
	var d struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal([]byte(ev.Detail), &d)
	return d.EventID
}

// Failure is one event EventBridge refused.
type Failure struct {
	EventID, DetailType string
	Code, Message       string // EventBridge's ErrorCode and ErrorMessage
}

// FailedError reports the events that did not go out.
type FailedError struct{ Failures []Failure }

func (e *FailedError) Error() string {
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = fmt.Sprintf("%s %s: %s %s", f.DetailType, f.EventID, f.Code, f.Message)
	}
	return fmt.Sprintf("%d event(s) not published: %s", len(e.Failures), strings.Join(parts, "; "))
}
