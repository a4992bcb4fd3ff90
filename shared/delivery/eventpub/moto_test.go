package eventpub_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/events/eventschema"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/eventpub"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/eventpub/eventpubtest"
)

// TestWithEventBridge publishes a registration's events to a real EventBridge API (moto) and
// reads them back the way a subscriber does: a rule on the source with an SQS target.
func TestWithEventBridge(t *testing.T) {
	cfg := testenv.AWS(t)
	sub := eventpubtest.Subscribe(t, cfg, "hokusai-test")

	evs := registrationEvents(t, "7")
	published, err := eventpub.New(eventbridge.NewFromConfig(cfg), "hokusai-test").Publish(t.Context(), evs)
	if err != nil || len(published) != 2 {
		t.Fatalf("published %v, %v", published, err)
	}

	got := map[string]eventpubtest.Received{}
	for _, r := range sub.Receive(t, len(evs), 15*time.Second) {
		got[r.DetailType] = r
	}
	for _, want := range evs {
		r, ok := got[want.DetailType]
		if !ok {
			t.Errorf("no %s event arrived", want.DetailType)
			continue
		}
		if r.Source != events.Source {
			t.Errorf("source %q", r.Source)
		}
		if err := eventschema.Validate(want.DetailType, r.Detail); err != nil {
			t.Errorf("delivered detail: %v", err)
		}
		var a, b any
		_ = json.Unmarshal(r.Detail, &a)
		_ = json.Unmarshal([]byte(want.Detail), &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s detail\n got %s\nwant %s", want.DetailType, r.Detail, want.Detail)
		}
	}
}

// TestWithEventBridgeMissingBus: publishing to a bus that does not exist is an error, not a
// silent success.
func TestWithEventBridgeMissingBus(t *testing.T) {
	cfg := testenv.AWS(t)
	published, err := eventpub.New(eventbridge.NewFromConfig(cfg), "no-such-bus").Publish(t.Context(), registrationEvents(t, "1"))
	if err == nil || len(published) != 0 {
		t.Errorf("published %v, %v", published, err)
	}
	t.Logf("missing bus: %v", err)
}
