package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/events/eventschema"
	"github.com/hokusai-protocol/registry-gateway/infra/local/faultproxy"
	"github.com/hokusai-protocol/registry-gateway/infra/local/harness"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// subscriberQueue is the URL of the stack's example subscriber queue (every registry event).
func subscriberQueue(t *testing.T, hs *harness.Harness) string {
	t.Helper()
	for _, q := range hs.Model.Queues {
		if strings.Contains(q.LogicalID, "SubscriberQueue") && !strings.Contains(q.LogicalID, "DLQ") {
			return hs.Resources.QueueURLs[q.LogicalID]
		}
	}
	t.Fatal("no subscriber queue in the template")
	return ""
}

// outboxRule is the logical id of the outbox's schedule.
func outboxRule(t *testing.T) string {
	t.Helper()
	for _, r := range h.Model.Rules {
		if r.Schedule != "" {
			return r.LogicalID
		}
	}
	t.Fatal("no schedule in the template")
	return ""
}

// received is one event as a subscriber got it.
type received struct {
	DetailType string        `json:"detail-type"`
	Source     string        `json:"source"`
	Detail     events.Detail `json:"detail"`
	raw        json.RawMessage
}

// drain reads the subscriber queue until every id in want has arrived, and returns everything
// read, by event id. It gives up only when nothing wanted has arrived for as long as deadline
// first allowed: every wanted event that arrives moves the deadline on by that much, so a slow,
// busy machine that is still delivering is never a failure, and one that has stopped is.
func drain(t *testing.T, queueURL string, want map[string]bool, deadline time.Time) map[string][]received {
	t.Helper()
	window := time.Until(deadline)
	client := sqs.NewFromConfig(h.AWSConfig())
	got := map[string][]received{}
	missing := func() int {
		n := 0
		for id := range want {
			if len(got[id]) == 0 {
				n++
			}
		}
		return n
	}
	for missing() > 0 && time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var ev received
			if err := json.Unmarshal([]byte(*m.Body), &ev); err != nil {
				t.Fatalf("subscriber got a non-event: %s", *m.Body)
			}
			var envelope map[string]json.RawMessage
			_ = json.Unmarshal([]byte(*m.Body), &envelope)
			ev.raw = envelope["detail"]
			if want[ev.Detail.EventID] && len(got[ev.Detail.EventID]) == 0 {
				deadline = time.Now().Add(window)
			}
			got[ev.Detail.EventID] = append(got[ev.Detail.EventID], ev)
			_, _ = client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if n := missing(); n > 0 {
		t.Fatalf("%d of %d events never reached the subscriber (none arrived for %s)", n, len(want), window.Round(time.Second))
	}
	return got
}

// registrationEvents returns the published-or-pending event ids a 201 response lists.
func registrationEvents(t *testing.T, body []byte) (registrationID string, ids []string) {
	t.Helper()
	var res struct {
		RegistrationID string `json:"registration_id"`
		Events         map[string]struct {
			Status  string `json:"status"`
			EventID string `json:"event_id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Events {
		if e.Status != "not_eligible" {
			ids = append(ids, e.EventID)
		}
	}
	return res.RegistrationID, ids
}

// Every registration's events reach a subscriber, valid against the published schemas: the two
// Hokusai events and model_version.created for the version it created, routed by the stack's
// subscriber rule as any registry change is.
func TestEventsReachSubscribers(t *testing.T) {
	writer, _ := registrationKeys(t)
	logged := logThroughGateway(t, writer)
	start := time.Now()
	res, b := postRegister(t, writer, registerBody(uniqueToken("EVT"), logged.RunID, map[string]any{"current_value": 0.2}), "")
	if res.StatusCode != 201 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	regID, ids := registrationEvents(t, b)
	if len(ids) != 3 {
		t.Fatalf("want the three events, got %v: %s", ids, b)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	got := drain(t, subscriberQueue(t, h), want, time.Now().Add(30*time.Second))
	t.Logf("publish latency: the registration's events at the subscriber %s after it was sent", time.Since(start).Round(time.Millisecond))
	var types []string
	for id := range want {
		ev := got[id][0]
		types = append(types, ev.DetailType)
		if ev.Source != events.Source || ev.Detail.RegistrationID != regID {
			t.Errorf("event %s: source %s registration %s", id, ev.Source, ev.Detail.RegistrationID)
		}
		if err := eventschema.Validate(ev.DetailType, ev.raw); err != nil {
			t.Errorf("%s does not match its schema: %v", ev.DetailType, err)
		}
		if ev.DetailType == events.ModelVersionCreated {
			var c events.RegistryChange
			if err := json.Unmarshal(ev.raw, &c); err != nil || c.ModelVersion != "1" || c.RunID != logged.RunID ||
				c.Source == "" || c.RequestID == "" || c.Operation != "CreateModelVersion" {
				t.Errorf("model_version.created %s (%v)", ev.raw, err)
			}
		}
	}
	slices.Sort(types)
	if want := []string{events.ModelReadyToDeploy, events.ModelRegistered, events.ModelVersionCreated}; !slices.Equal(types, want) {
		t.Errorf("detail types %v, want %v", types, want)
	}
}

// EventBridge unreachable during a burst of registrations: the registrations succeed, their
// events wait in the outbox, and once EventBridge is back the outbox delivers every one of them.
func TestOutboxCatchesUpAfterAnOutage(t *testing.T) {
	writer, _ := registrationKeys(t)
	logged := logThroughGateway(t, writer)
	queue := subscriberQueue(t, h)
	const burst = 100
	h.Faults.SetFault("events", faultproxy.Fault{Unreachable: true})
	var mu sync.Mutex
	want := map[string]bool{}
	regs := map[string]bool{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range burst {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			body := registerBody(uniqueToken("OUT")+"-"+string(rune('A'+i%26)), logged.RunID, map[string]any{"current_value": 0.2})
			res, b := postRegister(t, writer, body, "")
			if res.StatusCode != 201 {
				t.Errorf("registration during the outage: %d %s", res.StatusCode, b)
				return
			}
			if !strings.Contains(string(b), `"pending"`) {
				t.Errorf("events reported as sent while EventBridge was down: %s", b)
			}
			id, ids := registrationEvents(t, b)
			mu.Lock()
			regs[id] = true
			for _, e := range ids {
				want[e] = true
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	h.Faults.Clear("events")
	if t.Failed() {
		return
	}
	recovered := time.Now()
	// The harness fires the outbox every minute, as the stack's schedule does; run it now.
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = h.Triggers.RunSchedule(context.Background(), outboxRule(t))
			time.Sleep(time.Second)
		}
	}()
	got := drain(t, queue, want, time.Now().Add(2*time.Minute))
	close(done)
	t.Logf("outbox caught up with %d registrations (%d events) %s after EventBridge came back",
		burst, len(want), time.Since(recovered).Round(100*time.Millisecond))
	for id, evs := range got {
		if want[id] && !regs[evs[0].Detail.RegistrationID] {
			t.Errorf("event %s names registration %s, which the burst did not create", id, evs[0].Detail.RegistrationID)
		}
	}
	// Every event at least once, and the outbox has nothing left of this burst.
	deadline := time.Now().Add(30 * time.Second)
	for pendingCount(t) > 0 && time.Now().Before(deadline) {
		_ = h.Triggers.RunSchedule(context.Background(), outboxRule(t))
		time.Sleep(500 * time.Millisecond)
	}
	if n := pendingCount(t); n > 0 {
		t.Errorf("%d registrations still pending after the outbox ran", n)
	}
}

// A webhook receiver that fails twice, then accepts: the delivery is retried with the same
// idempotency key and a valid signature each time.
func TestWebhookRetriesThenDelivers(t *testing.T) {
	var mu sync.Mutex
	type delivery struct {
		key, sig string
		body     []byte
	}
	var deliveries []delivery
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		deliveries = append(deliveries, delivery{r.Header.Get("X-Hokusai-Idempotency-Key"), r.Header.Get("X-Hokusai-Signature"), body})
		n := len(deliveries)
		mu.Unlock()
		if n <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	tmpl := synthTemplate(t, "local", map[string]string{
		"webhookUrl": receiver.URL + "/hooks/hokusai", "webhookDetailTypes": "model_registered", "webhookRetrySeconds": "1",
	})
	wh, _ := startStack(t, tmpl, harness.Options{})
	// Publish one event the way the registration path does, straight onto the bus.
	detail := events.NewDetail(events.ModelRegistered, events.Detail{
		ModelID: "hokusai-WEBHOOK/1/WEBHOOK", TokenSymbol: "WEBHOOK", MetricName: "accuracy", BaselineValue: 0.8, CurrentValue: 0.85,
		ModelName: "hokusai-WEBHOOK", ModelVersion: "1", MLflowRunID: "run-1", ProposalIdentifier: "WEBHOOK",
		Timestamp: events.Timestamp(time.Now()), UserID: "u1", KeyID: "k1", RegistrationID: "r1",
	})
	if err := putEvent(wh, detail); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(deliveries)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	secret := webhookSecret(t, wh)
	mu.Lock()
	defer mu.Unlock()
	if len(deliveries) != 3 {
		t.Fatalf("%d deliveries, want 2 failures and 1 success", len(deliveries))
	}
	for i, d := range deliveries {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(d.body)
		if d.sig != "sha256="+hex.EncodeToString(mac.Sum(nil)) || d.key != detail.EventID {
			t.Errorf("delivery %d: signature %q key %q (want %s)", i, d.sig, d.key, detail.EventID)
		}
		var body map[string]any
		if err := json.Unmarshal(d.body, &body); err != nil || body["event_type"] != events.ModelRegistered || body["source"] != "mlflow" {
			t.Errorf("delivery %d body %s", i, d.body)
		}
	}
}

func putEvent(hs *harness.Harness, d events.Detail) error {
	raw, err := events.MarshalDetail(d)
	if err != nil {
		return err
	}
	return publishRaw(hs, events.ModelRegistered, raw)
}

// webhookSecret reads the signing secret the stack generated, as a receiver's operator would.
func webhookSecret(t *testing.T, hs *harness.Harness) string {
	t.Helper()
	client := secretsmanager.NewFromConfig(hs.AWSConfig())
	for _, s := range hs.Model.Secrets {
		if strings.Contains(s.LogicalID, "WebhookSecret") {
			out, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.Name)})
			if err != nil {
				t.Fatal(err)
			}
			return *out.SecretString
		}
	}
	t.Fatal("no webhook secret in the template")
	return ""
}

// publishRaw puts one registry event on the stack's bus.
func publishRaw(hs *harness.Harness, detailType, detail string) error {
	client := eventbridge.NewFromConfig(hs.AWSConfig())
	out, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(events.Source), DetailType: aws.String(detailType), Detail: aws.String(detail),
		EventBusName: aws.String(hs.Model.Buses[0].Name),
	}}})
	if err == nil && out.FailedEntryCount > 0 {
		err = errors.New("PutEvents refused the event")
	}
	return err
}

// pendingCount is how many registrations the outbox still owes events for.
func pendingCount(t *testing.T) int {
	t.Helper()
	out, err := dynamodb.NewFromConfig(h.AWSConfig()).Query(context.Background(), &dynamodb.QueryInput{
		TableName: aws.String(registrationsTable(t)), IndexName: aws.String(regstore.OutboxIndex),
		KeyConditionExpression:    aws.String("outbox_status = :p"),
		ExpressionAttributeValues: map[string]dtypes.AttributeValue{":p": &dtypes.AttributeValueMemberS{Value: regstore.OutboxPending}},
		Select:                    dtypes.SelectCount,
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}
