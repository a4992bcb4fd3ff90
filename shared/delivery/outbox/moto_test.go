package outbox_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/eventpub"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/eventpub/eventpubtest"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/outbox"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore/regstoretest"
)

// TestWithMoto runs the outbox as deployed: the registrations table and its pending_events index,
// the real publisher, a real bus with a subscriber.
func TestWithMoto(t *testing.T) {
	cfg := testenv.AWS(t)
	store := regstoretest.NewStore(t, dynamodb.NewFromConfig(cfg))
	sub := eventpubtest.Subscribe(t, cfg, "hokusai-outbox")
	eb := eventbridge.NewFromConfig(cfg)

	created := time.Now().UTC().Add(-5 * time.Minute)
	owed := map[string][]regstore.Event{
		"both-pending":  owedEvents(t, "1", regstore.EventPending, regstore.EventPending),
		"ready-pending": owedEvents(t, "2", regstore.EventPublished, regstore.EventPending),
		"nothing-owed":  owedEvents(t, "3", regstore.EventPublished, regstore.EventNotEligible),
	}
	for id, evs := range owed {
		rec := regstore.Registration{RegistrationID: id, CreatedAt: created.Format(time.RFC3339), Events: evs}
		if err := store.Create(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}

	cfgOutbox := outbox.Config{Environment: "test", Batch: 10, BaseBackoff: 30 * time.Second, MaxBackoff: 15 * time.Minute}
	clock := &clock{time.Now().Add(time.Second)}
	newRelay := func(bus string) *outbox.Relay {
		r := outbox.New(cfgOutbox, store, eventpub.New(eb, bus), slog.New(slog.DiscardHandler), &strings.Builder{})
		r.Now = clock.Now
		r.Jitter = func(d time.Duration) time.Duration { return d }
		return r
	}

	s, err := newRelay("hokusai-outbox").Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.Registrations != 2 || s.Published != 3 || s.Failed != 0 || s.Remaining != 0 || s.OldestPending != 0 {
		t.Errorf("summary %+v", s)
	}
	var got []string
	for _, r := range sub.Receive(t, 3, 15*time.Second) {
		got = append(got, r.DetailType)
	}
	slices.Sort(got)
	if want := []string{events.ModelReadyToDeploy, events.ModelReadyToDeploy, events.ModelRegistered}; !slices.Equal(got, want) {
		t.Errorf("subscriber got %v, want %v", got, want)
	}
	for id := range owed {
		rec, err := store.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.OutboxStatus != "" || slices.ContainsFunc(rec.Events, func(e regstore.Event) bool { return e.Status == regstore.EventPending }) {
			t.Errorf("%s still owes events: %+v", id, rec.Events)
		}
	}

	// A bus that does not exist: the registration is backed off and counted as still owing.
	evs := owedEvents(t, "4", regstore.EventPending, regstore.EventPending)
	if err := store.Create(t.Context(), regstore.Registration{RegistrationID: "bus-missing", CreatedAt: created.Format(time.RFC3339), Events: evs}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	s, err = newRelay("no-such-bus").Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if s.Failed != 1 || s.Remaining != 1 || s.OldestPending < 5*time.Minute {
		t.Errorf("summary %+v", s)
	}
	rec, err := store.Get(t.Context(), "bus-missing")
	if err != nil {
		t.Fatal(err)
	}
	if rec.NextAttemptAt != clock.Now().Add(30*time.Second).UnixMilli() || rec.Events[0].Attempts != 1 ||
		!strings.Contains(rec.Events[0].LastError, "no-such-bus") {
		t.Errorf("failure not recorded: next %d, events %+v", rec.NextAttemptAt, rec.Events)
	}
}

// owedEvents are a registration's two events with the given statuses, details as published.
func owedEvents(t *testing.T, version string, statuses ...string) []regstore.Event {
	t.Helper()
	var out []regstore.Event
	for i, dt := range events.DetailTypes {
		d := events.NewDetail(dt, events.Detail{
			ModelID: "m/" + version + "/TOK", TokenSymbol: "TOK", MetricName: "accuracy", BaselineValue: 0.5,
			CurrentValue: 0.6, ModelName: "m", ModelVersion: version, MLflowRunID: "run", ProposalIdentifier: "TOK",
			Timestamp: events.Timestamp(time.Now()), UserID: "u", RegistrationID: "reg-" + version,
		})
		js, err := events.MarshalDetail(d)
		if err != nil {
			t.Fatal(err)
		}
		ev := regstore.Event{EventID: d.EventID, DetailType: dt, Detail: js, Status: statuses[i]}
		if statuses[i] == regstore.EventNotEligible {
			ev.Detail, ev.Reason = "", "metric not eligible"
		}
		out = append(out, ev)
	}
	return out
}
