package outbox_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/delivery/outbox"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

var t0 = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)

// clock is the controllable time of a test.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

type failure struct {
	id, msg string
	next    time.Time
}

// fakeStore keeps registrations in memory with the semantics regstore documents.
type fakeStore struct {
	regs                        map[string]*regstore.Registration
	marked                      map[string][]string
	failures                    []failure
	listErr, markErr, recordErr error
	lists                       int
}

func newStore(regs ...regstore.Registration) *fakeStore {
	s := &fakeStore{regs: map[string]*regstore.Registration{}, marked: map[string][]string{}}
	for _, r := range regs {
		if r.PK == "" {
			r.PK = regstore.RegistrationPK(r.RegistrationID)
		}
		s.regs[r.PK] = &r
	}
	return s
}

func (s *fakeStore) ListPending(_ context.Context, now time.Time, limit int) ([]regstore.Registration, error) {
	s.lists++
	if s.listErr != nil {
		return nil, s.listErr
	}
	var out []regstore.Registration
	for _, r := range s.regs {
		if r.OutboxStatus == regstore.OutboxPending && r.NextAttemptAt <= now.UnixMilli() {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NextAttemptAt < out[j].NextAttemptAt })
	return out[:min(limit, len(out))], nil
}

// marked and failures are by registration id, a registry change's by its key.
func (s *fakeStore) MarkPublishedItem(_ context.Context, pk string, eventIDs []string) error {
	if s.markErr != nil {
		return s.markErr
	}
	r := s.regs[pk]
	id := cmp.Or(r.RegistrationID, pk)
	s.marked[id] = append(s.marked[id], eventIDs...)
	r.OutboxStatus = ""
	for i := range r.Events {
		if slices.Contains(eventIDs, r.Events[i].EventID) {
			r.Events[i].Status = regstore.EventPublished
		} else if r.Events[i].Status == regstore.EventPending {
			r.OutboxStatus = regstore.OutboxPending
		}
	}
	return nil
}

func (s *fakeStore) RecordFailureItem(_ context.Context, pk, msg string, next time.Time) error {
	if s.recordErr != nil {
		return s.recordErr
	}
	r := s.regs[pk]
	s.failures = append(s.failures, failure{cmp.Or(r.RegistrationID, pk), msg, next})
	r.NextAttemptAt = next.UnixMilli()
	for i := range r.Events {
		if r.Events[i].Status == regstore.EventPending {
			r.Events[i].Attempts++
			r.Events[i].LastError = msg
		}
	}
	return nil
}

// fakePublisher refuses the detail types in refuse, or fails every call with err.
type fakePublisher struct {
	refuse []string
	err    error
	// each call advances the relay's clock by cost (a publish that takes time, without sleeping)
	clock *clock
	cost  time.Duration
	calls [][]string
}

func (p *fakePublisher) Publish(ctx context.Context, evs []regstore.Event) ([]string, error) {
	var ids, refused []string
	for _, e := range evs {
		ids = append(ids, e.EventID)
	}
	p.calls = append(p.calls, ids)
	if p.clock != nil {
		p.clock.Advance(p.cost)
	}
	if p.err != nil {
		return nil, p.err
	}
	var published []string
	for _, e := range evs {
		if slices.Contains(p.refuse, e.DetailType) {
			refused = append(refused, e.EventID)
		} else {
			published = append(published, e.EventID)
		}
	}
	if refused != nil {
		return published, fmt.Errorf("%d event(s) not published: ThrottlingException", len(refused))
	}
	return published, nil
}

// registration owes its events (statuses given per detail type), due at `due`, created at `created`.
func registration(id string, created, due time.Time, statuses ...string) regstore.Registration {
	r := regstore.Registration{RegistrationID: id, CreatedAt: created.Format(time.RFC3339), NextAttemptAt: due.UnixMilli()}
	for i, st := range statuses {
		dt := []string{"model_registered", "model_ready_to_deploy"}[i]
		r.Events = append(r.Events, regstore.Event{EventID: id + "-" + dt, DetailType: dt, Detail: "{}", Status: st})
		if st == regstore.EventPending {
			r.OutboxStatus = regstore.OutboxPending
		}
	}
	return r
}

func relay(store outbox.Store, pub outbox.Publisher, c *clock) (*outbox.Relay, *bytes.Buffer, *bytes.Buffer) {
	var logs, metrics bytes.Buffer
	cfg := outbox.Config{Environment: "test", Batch: 25, BaseBackoff: 30 * time.Second, MaxBackoff: 15 * time.Minute}
	r := outbox.New(cfg, store, pub, slog.New(slog.NewJSONHandler(&logs, nil)), &metrics)
	r.Now = c.Now
	r.Jitter = func(d time.Duration) time.Duration { return d }
	return r, &logs, &metrics
}

func TestRunPublishesWhatIsDue(t *testing.T) {
	c := &clock{t0}
	store := newStore(
		registration("a", t0.Add(-2*time.Minute), t0.Add(-time.Minute), regstore.EventPending, regstore.EventPending),
		registration("b", t0.Add(-time.Minute), t0, regstore.EventPublished, regstore.EventPending),
		registration("c", t0.Add(-10*time.Minute), t0.Add(time.Minute), regstore.EventPending, regstore.EventNotEligible),
	)
	pub := &fakePublisher{}
	r, _, _ := relay(store, pub, c)
	s, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := outbox.Summary{Registrations: 2, Published: 3, Remaining: 1, OldestPending: 10 * time.Minute}
	if s != want {
		t.Errorf("summary %+v, want %+v", s, want)
	}
	if !slices.Equal(store.marked["a"], []string{"a-model_registered", "a-model_ready_to_deploy"}) ||
		!slices.Equal(store.marked["b"], []string{"b-model_ready_to_deploy"}) || store.marked["c"] != nil {
		t.Errorf("marked %v", store.marked)
	}
	// Only pending events are sent, a registration's together in one call.
	if len(pub.calls) != 2 || len(pub.calls[0]) != 2 || !slices.Equal(pub.calls[1], []string{"b-model_ready_to_deploy"}) {
		t.Errorf("publish calls %v", pub.calls)
	}
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	c := &clock{t0}
	store := newStore(registration("a", t0, t0, regstore.EventPending, regstore.EventPending))
	pub := &fakePublisher{err: errors.New("PutEvents to bus: connection refused")}
	r, _, _ := relay(store, pub, c)
	run := func() int {
		t.Helper()
		before := len(store.failures)
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return len(store.failures) - before
	}

	var waits []time.Duration
	for round := range 8 {
		if round > 0 {
			next := store.failures[len(store.failures)-1].next
			c.t = next.Add(-time.Second)
			if n := run(); n != 0 {
				t.Fatalf("round %d: retried a second before it was due", round)
			}
			c.t = next
		}
		if n := run(); n != 1 {
			t.Fatalf("round %d: %d failures recorded, want 1", round, n)
		}
		f := store.failures[len(store.failures)-1]
		waits = append(waits, f.next.Sub(c.Now()))
		if !strings.Contains(f.msg, "connection refused") {
			t.Errorf("recorded %q", f.msg)
		}
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
		15 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	if got := store.regs[regstore.RegistrationPK("a")].Events[0].Attempts; got != 8 {
		t.Errorf("attempts %d", got)
	}
}

func TestBackoffSchedule(t *testing.T) {
	c := &clock{t0}
	for attempts, want := range map[int]time.Duration{
		0: 30 * time.Second, 1: time.Minute, 2: 2 * time.Minute, 4: 8 * time.Minute, 5: 15 * time.Minute,
		9: 15 * time.Minute, 40: 15 * time.Minute, 200: 15 * time.Minute,
	} {
		reg := registration("a", t0, t0, regstore.EventPending)
		reg.Events[0].Attempts = attempts
		store := newStore(reg)
		r, _, _ := relay(store, &fakePublisher{err: errors.New("down")}, c)
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := store.failures[0].next.Sub(t0); got != want {
			t.Errorf("after %d attempts: wait %s, want %s", attempts, got, want)
		}
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*fakeStore, *fakePublisher)
		wantMarked []string
		wantFailed bool
		wantErr    bool
	}{
		{
			name:       "one event refused: the other is marked, the registration backed off",
			setup:      func(_ *fakeStore, p *fakePublisher) { p.refuse = []string{"model_ready_to_deploy"} },
			wantMarked: []string{"a-model_registered"}, wantFailed: true,
		},
		{
			name:       "marking fails: backed off rather than re-sent at once",
			setup:      func(s *fakeStore, _ *fakePublisher) { s.markErr = errors.New("ProvisionedThroughputExceeded") },
			wantFailed: true,
		},
		{
			name: "recording the failure fails too: logged, the run goes on",
			setup: func(s *fakeStore, p *fakePublisher) {
				p.err, s.recordErr = errors.New("down"), errors.New("also down")
			},
		},
		{
			name:    "the store cannot be read: the run fails",
			setup:   func(s *fakeStore, _ *fakePublisher) { s.listErr = errors.New("AccessDenied") },
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t0}
			store := newStore(registration("a", t0, t0, regstore.EventPending, regstore.EventPending))
			pub := &fakePublisher{}
			tc.setup(store, pub)
			r, logs, metrics := relay(store, pub, c)
			err := r.Handle(context.Background())
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if !slices.Equal(store.marked["a"], tc.wantMarked) {
				t.Errorf("marked %v, want %v", store.marked["a"], tc.wantMarked)
			}
			if got := len(store.failures) == 1; got != tc.wantFailed {
				t.Errorf("failures recorded %v", store.failures)
			}
			if tc.wantErr {
				if metrics.Len() != 0 || !strings.Contains(logs.String(), "outbox run failed") {
					t.Errorf("metrics %q logs %s", metrics, logs)
				}
			} else if !strings.Contains(logs.String(), `"failed":1`) {
				t.Errorf("summary does not count the failure: %s", logs)
			}
		})
	}
}

func TestRunPagesAndStops(t *testing.T) {
	t.Run("every due registration across pages", func(t *testing.T) {
		var regs []regstore.Registration
		for i := range 7 {
			regs = append(regs, registration(fmt.Sprint("r", i), t0, t0.Add(-time.Duration(i)*time.Second), regstore.EventPending))
		}
		store, pub := newStore(regs...), &fakePublisher{}
		r, _, _ := relay(store, pub, &clock{t0})
		r.Batch = 3
		s, err := r.Run(context.Background())
		if err != nil || s.Registrations != 7 || s.Published != 7 || s.Remaining != 0 {
			t.Errorf("summary %+v, %v", s, err)
		}
		if store.lists != 3+1 { // 3, 3, 1, then the survey
			t.Errorf("%d queries", store.lists)
		}
	})
	t.Run("a record that cannot be updated is tried once per run", func(t *testing.T) {
		store := newStore(registration("a", t0, t0, regstore.EventPending), registration("b", t0, t0, regstore.EventPending))
		store.markErr, store.recordErr = errors.New("down"), errors.New("down")
		pub := &fakePublisher{}
		r, _, _ := relay(store, pub, &clock{t0})
		r.Batch = 2
		s, err := r.Run(context.Background())
		if err != nil || len(pub.calls) != 2 || s.Failed != 2 || s.Remaining != 2 {
			t.Errorf("summary %+v, %d publish calls, %v", s, len(pub.calls), err)
		}
	})
	t.Run("near the deadline no registration is started", func(t *testing.T) {
		var regs []regstore.Registration
		for i := range 40 {
			regs = append(regs, registration(fmt.Sprint("r", i), t0, t0, regstore.EventPending))
		}
		// The invocation's deadline is real but far; the relay's clock starts 300 ms before it and
		// each publish costs 20 ms of it, so the outcome is exact whatever the machine's speed.
		deadline := time.Now().Add(time.Hour)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		c := &clock{deadline.Add(-300 * time.Millisecond)}
		store, pub := newStore(regs...), &fakePublisher{clock: c, cost: 20 * time.Millisecond}
		r, _, _ := relay(store, pub, c)
		r.Reserve = 100 * time.Millisecond
		s, err := r.Run(ctx)
		// 200 ms of budget before the reserve, 20 ms a registration: the eleventh starts with
		// exactly 100 ms left (not less), the twelfth would start inside the reserve.
		if err != nil || !s.StoppedEarly || s.Registrations != 11 || len(pub.calls) != 11 {
			t.Errorf("summary %+v, %d publish calls, %v", s, len(pub.calls), err)
		}
		if s.Remaining != 40-s.Published {
			t.Errorf("survey: remaining %d after publishing %d", s.Remaining, s.Published)
		}
	})
}

func TestHandleWritesTheMetric(t *testing.T) {
	c := &clock{t0}
	store := newStore(
		registration("old", t0.Add(-20*time.Minute), t0.Add(5*time.Minute), regstore.EventPending),
		registration("due", t0.Add(-time.Minute), t0, regstore.EventPending),
	)
	r, logs, metrics := relay(store, &fakePublisher{}, c)
	if err := r.Handle(context.Background()); err != nil {
		t.Fatal(err)
	}
	var line struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Environment string
		Age         float64 `json:"OldestPendingEventAgeSeconds"`
		Pending     float64 `json:"PendingRegistrations"`
		Published   float64 `json:"OutboxEventsPublished"`
	}
	if err := json.Unmarshal(metrics.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %v\n%s", err, metrics)
	}
	m := line.AWS.CloudWatchMetrics
	if len(m) != 1 || m[0].Namespace != "Hokusai/Registry" || !slices.Equal(m[0].Dimensions[0], []string{"Environment"}) ||
		m[0].Metrics[0].Name != "OldestPendingEventAgeSeconds" || m[0].Metrics[0].Unit != "Seconds" {
		t.Errorf("EMF directive %+v", line.AWS)
	}
	if line.AWS.Timestamp != t0.UnixMilli() || line.Environment != "test" || line.Age != 1200 || line.Pending != 1 || line.Published != 1 {
		t.Errorf("values %+v", line)
	}
	for _, want := range []string{`"msg":"outbox run"`, `"published":1`, `"failed":0`, `"remaining":1`, `"oldest_pending_seconds":1200`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("summary lacks %s: %s", want, logs)
		}
	}
	// Nothing owed: the age is still reported, as 0.
	metrics.Reset()
	store.regs = map[string]*regstore.Registration{}
	if err := r.Handle(context.Background()); err != nil || !strings.Contains(metrics.String(), `"OldestPendingEventAgeSeconds":0`) {
		t.Errorf("empty run: %v %s", err, metrics)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	cfg, err := config.Load[outbox.Config](map[string]string{
		"REGISTRATIONS_TABLE": "regs", "EVENT_BUS_NAME": "bus", "OUTBOX_BASE_BACKOFF": "250ms", "HOKUSAI_ENV": "dev",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Batch != 25 || cfg.BaseBackoff != 250*time.Millisecond || cfg.MaxBackoff != 15*time.Minute || cfg.Environment != "dev" {
		t.Errorf("config %+v", cfg)
	}
	if _, err := config.Load[outbox.Config](map[string]string{"EVENT_BUS_NAME": "bus"}); err == nil ||
		!strings.Contains(err.Error(), "REGISTRATIONS_TABLE") {
		t.Errorf("missing table: %v", err)
	}
}

func TestConfig(t *testing.T) {
	base := outbox.Config{Environment: "dev", RegistrationsTable: "t", EventBusName: "b", Batch: 25, BaseBackoff: time.Second, MaxBackoff: time.Minute}
	for name, tc := range map[string]struct {
		mutate func(*outbox.Config)
		want   string
	}{
		"valid":                  {func(*outbox.Config) {}, ""},
		"batch too large":        {func(c *outbox.Config) { c.Batch = 101 }, "OUTBOX_BATCH"},
		"zero backoff":           {func(c *outbox.Config) { c.BaseBackoff = 0 }, "OUTBOX_BASE_BACKOFF"},
		"cap below the base":     {func(c *outbox.Config) { c.MaxBackoff = time.Millisecond }, "OUTBOX_MAX_BACKOFF"},
		"blank environment name": {func(c *outbox.Config) { c.Environment = " " }, "HOKUSAI_ENV"},
	} {
		t.Run(name, func(t *testing.T) {
			c := base
			tc.mutate(&c)
			err := c.Validate()
			if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want mention of %q", err, tc.want)
			}
		})
	}
}

// A registry change the proxy left owed (a CHANGE# item, no registration id) is relayed and
// marked by its key like a registration, and backed off by its key when the bus refuses it.
func TestRunRelaysRegistryChanges(t *testing.T) {
	c := &clock{t0}
	change := func(id, detailType string) regstore.Registration {
		return regstore.Registration{
			PK: regstore.ChangePK(id), CreatedAt: t0.Add(-time.Minute).Format(time.RFC3339Nano),
			OutboxStatus: regstore.OutboxPending, NextAttemptAt: t0.UnixMilli(),
			Events: []regstore.Event{{EventID: id, DetailType: detailType, Detail: `{"event_id":"` + id + `"}`, Status: regstore.EventPending}},
		}
	}
	store := newStore(change("e1", "model_version_alias.created"), change("e2", "refused.type"))
	pub := &fakePublisher{refuse: []string{"refused.type"}}
	r, _, _ := relay(store, pub, c)
	s, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Registrations != 2 || s.Published != 1 || s.Failed != 1 {
		t.Errorf("summary %+v", s)
	}
	if !slices.Equal(store.marked[regstore.ChangePK("e1")], []string{"e1"}) || store.marked[regstore.ChangePK("e2")] != nil {
		t.Errorf("marked %v", store.marked)
	}
	if len(store.failures) != 1 || store.failures[0].id != regstore.ChangePK("e2") {
		t.Errorf("failures %+v", store.failures)
	}
}
