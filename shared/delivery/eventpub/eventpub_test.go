package eventpub_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/eventpub"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// fakeBus answers each PutEvents call with the refusals script returns for that call (1-based) and
// the entry's detail type; "" accepts the entry.
type fakeBus struct {
	mu     sync.Mutex
	calls  [][]types.PutEventsRequestEntry
	refuse func(call int, detailType string) string
	err    error
}

func (f *fakeBus) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in.Entries)
	if f.err != nil {
		return nil, f.err
	}
	out := &eventbridge.PutEventsOutput{}
	for i, e := range in.Entries {
		res := types.PutEventsResultEntry{EventId: aws.String(fmt.Sprintf("eb-%d-%d", len(f.calls), i))}
		if f.refuse != nil {
			if code := f.refuse(len(f.calls), aws.ToString(e.DetailType)); code != "" {
				res = types.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("refused by the fake")}
				out.FailedEntryCount++
			}
		}
		out.Entries = append(out.Entries, res)
	}
	return out, nil
}

func (f *fakeBus) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// registrationEvents are the two events of one registration as the registration record holds them.
func registrationEvents(t testing.TB, version string) []regstore.Event {
	t.Helper()
	var out []regstore.Event
	for _, dt := range events.DetailTypes {
		d := events.NewDetail(dt, events.Detail{
			ModelID: "m/" + version + "/TOK", TokenSymbol: "TOK", MetricName: "accuracy", BaselineValue: 0.5,
			CurrentValue: 0.6, ModelName: "m", ModelVersion: version, MLflowRunID: "run1", ProposalIdentifier: "TOK",
			Timestamp: "2026-01-15T10:30:00Z", UserID: "u", RegistrationID: "reg-" + version,
		})
		js, err := events.MarshalDetail(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, regstore.Event{EventID: d.EventID, DetailType: dt, Detail: js, Status: regstore.EventPending})
	}
	return out
}

func ids(evs []regstore.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.EventID)
	}
	return out
}

func throttle(detailType string, upToCall int) func(int, string) string {
	return func(call int, dt string) string {
		if dt == detailType && call <= upToCall {
			return "ThrottlingException"
		}
		return ""
	}
}

func TestPublish(t *testing.T) {
	evs := registrationEvents(t, "1")
	tests := []struct {
		name          string
		refuse        func(call int, detailType string) string
		callErr       error
		wantCalls     []int // entries per call
		wantPublished []string
		wantFailed    []string // codes
	}{
		{name: "both accepted in one call", wantCalls: []int{2}, wantPublished: ids(evs)},
		{
			name: "one throttled, its retry accepted", refuse: throttle(events.ModelReadyToDeploy, 1),
			wantCalls: []int{2, 1}, wantPublished: ids(evs),
		},
		{
			name: "throttled twice, third attempt accepted", refuse: throttle(events.ModelRegistered, 2),
			wantCalls: []int{2, 1, 1}, wantPublished: []string{evs[1].EventID, evs[0].EventID},
		},
		{
			name: "all throttled every time", refuse: func(int, string) string { return "ThrottlingException" },
			wantCalls: []int{2, 2, 2}, wantFailed: []string{"ThrottlingException", "ThrottlingException"},
		},
		{
			name: "a permanent refusal is not retried",
			refuse: func(_ int, dt string) string {
				if dt == events.ModelRegistered {
					return "MalformedDetail"
				}
				return ""
			},
			wantCalls: []int{2}, wantPublished: []string{evs[1].EventID}, wantFailed: []string{"MalformedDetail"},
		},
		{
			name: "one permanent, one transient until the end",
			refuse: func(_ int, dt string) string {
				if dt == events.ModelRegistered {
					return "AccessDeniedException"
				}
				return "InternalFailure"
			},
			wantCalls: []int{2, 1, 1}, wantFailed: []string{"AccessDeniedException", "InternalFailure"},
		},
		{name: "the call fails", callErr: errors.New("connection reset"), wantCalls: []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := &fakeBus{refuse: tc.refuse, err: tc.callErr}
			p := &eventpub.Publisher{API: bus, Bus: "hokusai-test", BaseDelay: time.Millisecond}
			published, err := p.Publish(context.Background(), evs)

			var perCall []int
			for _, c := range bus.calls {
				perCall = append(perCall, len(c))
			}
			if !slices.Equal(perCall, tc.wantCalls) {
				t.Errorf("entries per call %v, want %v", perCall, tc.wantCalls)
			}
			if !slices.Equal(published, tc.wantPublished) {
				t.Errorf("published %v, want %v", published, tc.wantPublished)
			}
			var fe *eventpub.FailedError
			switch {
			case tc.callErr != nil:
				if !errors.Is(err, tc.callErr) {
					t.Errorf("err %v, want the call's error", err)
				}
			case tc.wantFailed == nil:
				if err != nil {
					t.Errorf("err %v", err)
				}
			case !errors.As(err, &fe):
				t.Fatalf("err %v, want *FailedError", err)
			default:
				var codes []string
				for _, f := range fe.Failures {
					codes = append(codes, f.Code)
				}
				slices.Sort(codes)
				if !slices.Equal(codes, tc.wantFailed) {
					t.Errorf("failed codes %v, want %v", codes, tc.wantFailed)
				}
			}
		})
	}
}

func TestPublishSendsTheStoredEvents(t *testing.T) {
	evs := registrationEvents(t, "1")
	bus := &fakeBus{}
	if _, err := eventpub.New(bus, "arn:aws:events:us-east-1:1:event-bus/hokusai").Publish(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	for i, e := range bus.calls[0] {
		if aws.ToString(e.Source) != events.Source || aws.ToString(e.EventBusName) != "arn:aws:events:us-east-1:1:event-bus/hokusai" ||
			aws.ToString(e.DetailType) != evs[i].DetailType || aws.ToString(e.Detail) != evs[i].Detail {
			t.Errorf("entry %d = %+v", i, e)
		}
	}
}

func TestPublishTakesTheIDFromTheDetail(t *testing.T) {
	evs := registrationEvents(t, "1")
	want := ids(evs)
	for i := range evs {
		evs[i].EventID = ""
	}
	got, err := eventpub.New(&fakeBus{}, "b").Publish(context.Background(), evs)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("published %v, %v; want %v", got, err, want)
	}
}

func TestPublishSplitsPastTenEntries(t *testing.T) {
	var evs []regstore.Event
	for v := range 6 {
		evs = append(evs, registrationEvents(t, fmt.Sprint(v+1))...)
	}
	bus := &fakeBus{}
	got, err := eventpub.New(bus, "b").Publish(context.Background(), evs)
	if err != nil || len(got) != 12 {
		t.Fatalf("published %d, %v", len(got), err)
	}
	if len(bus.calls) != 2 || len(bus.calls[0]) != 10 || len(bus.calls[1]) != 2 {
		t.Errorf("calls %d", len(bus.calls))
	}
}

func TestPublishStopsAtTheDeadline(t *testing.T) {
	always := func(int, string) string { return "ThrottlingException" }
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"deadline shorter than the backoff", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}},
		{"cancelled while backing off", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx, cancel
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			bus := &fakeBus{refuse: always}
			// A publisher that ignored the context would sleep the two-minute backoff; the bound
			// only catches that sooner, far from anything a busy machine needs.
			p := &eventpub.Publisher{API: bus, Bus: "b", BaseDelay: 2 * time.Minute, MaxAttempts: 5}
			start := time.Now()
			published, err := p.Publish(ctx, registrationEvents(t, "1"))
			if took := time.Since(start); took > time.Minute {
				t.Errorf("took %s: the backoff outlived the context", took)
			}
			var fe *eventpub.FailedError
			if len(published) != 0 || !errors.As(err, &fe) || len(fe.Failures) != 2 {
				t.Errorf("published %v, err %v", published, err)
			}
			if n := bus.callCount(); n != 1 {
				t.Errorf("%d calls, want 1", n)
			}
		})
	}
}
