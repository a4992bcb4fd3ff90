package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/infra/local/faultproxy"
)

// registryEvent is one registry event as the subscriber queue got it.
type registryEvent struct {
	DetailType string                `json:"detail-type"`
	Source     string                `json:"source"`
	Detail     events.RegistryChange `json:"detail"`
}

// registryEventsOf reads the subscriber queue until done says the registry events of the models
// named in models are all there, or the deadline, and returns those events in arrival order.
// Other events are deleted unread: each test names its own models.
func registryEventsOf(t *testing.T, models map[string]bool, done func([]registryEvent) bool, deadline time.Time) []registryEvent {
	t.Helper()
	client := sqs.NewFromConfig(h.AWSConfig())
	queue := subscriberQueue(t, h)
	var got []registryEvent
	for !done(got) && time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var ev registryEvent
			if err := json.Unmarshal([]byte(*m.Body), &ev); err == nil && ev.Source == events.Source &&
				events.IsRegistryDetailType(ev.DetailType) && (models[ev.Detail.ModelName] || models[ev.Detail.NewModelName]) {
				got = append(got, ev)
			}
			_, _ = client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle})
		}
	}
	return got
}

// The stock client's registry calls through the gateway each reach a subscriber as their detail
// type, naming the key that made them.
func TestStockClientRegistryWritesReachSubscribers(t *testing.T) {
	admin := adminKey(t)
	key, keyID := createKey(t, admin, "e2e-registry-events", "mlflow:write")
	logged := loggedModelID(t, key)
	name := fmt.Sprintf("registry-events-%d", time.Now().UnixNano())
	var res struct {
		Version string `json:"version"`
	}
	runScript(t, &res, "registry_events_client.py", []string{"lifecycle", logged, name}, h.APIURL+"/api/mlflow", key)

	want := []string{
		events.RegisteredModelCreated, events.ModelVersionCreated, events.ModelVersionAliasCreated,
		events.ModelVersionTagSet, events.ModelVersionTagDeleted, events.ModelVersionAliasDeleted,
		events.RegisteredModelRenamed, events.RegisteredModelDeleted,
	}
	got := registryEventsOf(t, map[string]bool{name: true, name + "-renamed": true},
		func(evs []registryEvent) bool { return len(evs) >= len(want) }, time.Now().Add(60*time.Second))
	byType := map[string]registryEvent{}
	for _, ev := range got {
		if _, dup := byType[ev.DetailType]; dup {
			t.Errorf("%s twice", ev.DetailType)
		}
		byType[ev.DetailType] = ev
		if ev.Detail.UserID != "e2e-registry-events" || ev.Detail.KeyID != keyID || ev.Detail.RequestID == "" || ev.Detail.EventID == "" {
			t.Errorf("%s names %q/%q (request %q), want the acting key %s", ev.DetailType, ev.Detail.UserID, ev.Detail.KeyID, ev.Detail.RequestID, keyID)
		}
	}
	for _, dt := range want {
		if _, ok := byType[dt]; !ok {
			t.Errorf("no %s (got %d events)", dt, len(got))
		}
	}
	if d := byType[events.ModelVersionAliasCreated].Detail; d.Alias != "champion" || d.ModelVersion != res.Version {
		t.Errorf("alias event %+v, want champion → %s", d, res.Version)
	}
	if d := byType[events.ModelVersionCreated].Detail; d.ModelVersion != res.Version || !strings.HasPrefix(d.Source, "models:/") {
		t.Errorf("created event %+v", d)
	}
	if d := byType[events.RegisteredModelRenamed].Detail; d.ModelName != name || d.NewModelName != name+"-renamed" {
		t.Errorf("renamed event %+v", d)
	}
}

// loggedModelID logs a model with the stock client through the gateway and returns its logged
// model id (MLflow 3), what register_model registers.
func loggedModelID(t *testing.T, key string) string {
	t.Helper()
	logged := logThroughGateway(t, key)
	if logged.ModelID == "" {
		t.Fatalf("no logged model id: %+v", logged)
	}
	return logged.ModelID
}

// EventBridge unreachable during 100 alias changes and tag writes through the stock client, and
// some writes MLflow or the gateway refuse; then EventBridge is back: every change reaches the
// subscriber under exactly one event_id, nothing for a refused write, and the outbox is drained.
func TestRegistryEventsSurviveAnEventBridgeOutage(t *testing.T) {
	admin := adminKey(t)
	key, _ := createKey(t, admin, "e2e-registry-outage", "mlflow:write")
	reader, _ := createKey(t, admin, "e2e-registry-outage-reader", "mlflow:read")
	name := fmt.Sprintf("registry-outage-%d", time.Now().UnixNano())
	var res struct {
		Version string `json:"version"`
	}
	runScript(t, &res, "registry_events_client.py", []string{"lifecycle-setup", loggedModelID(t, key), name}, h.APIURL+"/api/mlflow", key)
	// The setup's own events are not this test's subject.
	registryEventsOf(t, map[string]bool{name: true}, func(evs []registryEvent) bool { return len(evs) >= 2 }, time.Now().Add(60*time.Second))

	const n = 50 // alias changes, and as many tag writes
	h.Faults.SetFault("events", faultproxy.Fault{Unreachable: true})
	outage := func() {
		runScript(t, &struct{}{}, "registry_events_client.py", []string{"burst", name, res.Version, fmt.Sprint(n)}, h.APIURL+"/api/mlflow", key)
		runScript(t, &struct{}{}, "registry_events_client.py", []string{"refused", name, res.Version}, h.APIURL+"/api/mlflow", key)
		runScript(t, &struct{}{}, "registry_events_client.py", []string{"refused", name, res.Version}, h.APIURL+"/api/mlflow", reader)
	}
	outage()
	h.Faults.Clear("events")
	if t.Failed() {
		return
	}
	if pendingCount(t) < 2*n {
		t.Errorf("%d items pending after the outage, want at least the %d changes", pendingCount(t), 2*n)
	}
	// One outbox run relays the whole outage (runs are asynchronous: firing more while one is
	// under way would publish its items twice, which subscribers de-duplicate but this test counts).
	if err := h.Triggers.RunSchedule(context.Background(), outboxRule(t)); err != nil {
		t.Fatal(err)
	}
	got := registryEventsOf(t, map[string]bool{name: true}, func(evs []registryEvent) bool { return len(evs) >= 2*n },
		time.Now().Add(3*time.Minute))
	deadline := time.Now().Add(30 * time.Second)
	for pendingCount(t) > 0 && time.Now().Before(deadline) {
		_ = h.Triggers.RunSchedule(context.Background(), outboxRule(t))
		time.Sleep(500 * time.Millisecond)
	}
	if p := pendingCount(t); p > 0 {
		t.Errorf("%d items still pending after the outbox ran", p)
	}
	// Anything published twice, or for a refused write, has arrived by now: the outbox is empty.
	got = append(got, registryEventsOf(t, map[string]bool{name: true}, func([]registryEvent) bool { return false }, time.Now().Add(3*time.Second))...)

	ids := map[string]int{}
	subjects := map[string]string{} // detail type + alias or tag key → event id
	for _, ev := range got {
		ids[ev.Detail.EventID]++
		subject := ev.Detail.Alias
		if ev.Detail.Tag != nil {
			subject = ev.Detail.Tag.Key
		}
		if subject == "ghost" || ev.Detail.ModelVersion == "999" {
			t.Errorf("an event for a refused write: %+v", ev.Detail)
		}
		if id, ok := subjects[ev.DetailType+" "+subject]; ok && id != ev.Detail.EventID {
			t.Errorf("%s %s has two event ids", ev.DetailType, subject)
		}
		subjects[ev.DetailType+" "+subject] = ev.Detail.EventID
	}
	var dups []string
	for id, c := range ids {
		if c > 1 {
			dups = append(dups, id)
		}
	}
	sort.Strings(dups)
	if len(dups) > 0 {
		// At least once, as for registrations: the harness's own minute schedule may overlap ours.
		t.Logf("%d events delivered more than once (same event_id): %v", len(dups), dups)
	}
	for i := range n {
		for _, s := range []string{events.ModelVersionAliasCreated + " a" + fmt.Sprint(i), events.ModelVersionTagSet + " k" + fmt.Sprint(i)} {
			if _, ok := subjects[s]; !ok {
				t.Errorf("no event for %s", s)
			}
		}
	}
	if len(ids) != 2*n {
		t.Errorf("%d distinct events, want %d", len(ids), 2*n)
	}
}
