package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/webhook"
)

var secret = []byte("test-signing-secret-0123456789")

const queueARN = "arn:aws:sqs:us-east-1:123456789012:webhook"

// receiver is a webhook endpoint that checks what the function sends and answers from a script.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	script []int // statuses, one per request; 200 once it runs out
	// hang holds each request until the sender gives up (or a minute passes, long past any
	// timeout under test), so a sender that ignores its timeout fails by outcome, not by clock.
	hang  bool
	calls atomic.Int32
	got   []received
	srv   *httptest.Server
}

type received struct {
	key  string
	body map[string]any
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{t: t, script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	body, _ := io.ReadAll(req.Body)
	if !webhook.Verify(secret, body, req.Header.Get("X-Hokusai-Signature")) {
		r.t.Errorf("bad signature %q", req.Header.Get("X-Hokusai-Signature"))
	}
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
		r.t.Errorf("%s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		r.t.Errorf("body is not JSON: %s", body)
	}
	if r.hang {
		select {
		case <-req.Context().Done():
			return
		case <-time.After(time.Minute):
		}
	}
	r.mu.Lock()
	r.got = append(r.got, received{req.Header.Get("X-Hokusai-Idempotency-Key"), m})
	status := http.StatusOK
	if len(r.script) > 0 {
		status, r.script = r.script[0], r.script[1:]
	}
	r.mu.Unlock()
	if status >= 300 && status < 400 {
		w.Header().Set("Location", "/elsewhere")
	}
	w.WriteHeader(status)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// fakeQueue records what the deliverer asks of SQS.
type fakeQueue struct {
	mu         sync.Mutex
	visibility []int32
	dead       []*sqs.SendMessageInput
	urlLookups int
	sendErr    error
}

func (q *fakeQueue) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.urlLookups++
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs.example/" + aws.ToString(in.QueueOwnerAWSAccountId) + "/" + aws.ToString(in.QueueName))}, nil
}

func (q *fakeQueue) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if aws.ToString(in.QueueUrl) != "https://sqs.example/123456789012/webhook" || aws.ToString(in.ReceiptHandle) == "" {
		return nil, errors.New("wrong queue or receipt")
	}
	q.visibility = append(q.visibility, in.VisibilityTimeout)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (q *fakeQueue) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.sendErr != nil {
		return nil, q.sendErr
	}
	q.dead = append(q.dead, in)
	return &sqs.SendMessageOutput{}, nil
}

func deliverer(url string, queue webhook.QueueAPI, dlq string) (*webhook.Deliverer, *testenv.Buffer) {
	logs := &testenv.Buffer{}
	d := &webhook.Deliverer{
		URL: url, Secret: secret, Client: webhook.NewClient(), Timeout: 2 * time.Second,
		DetailTypes: events.DetailTypes, Log: slog.New(slog.NewJSONHandler(logs, nil)),
		Queue: queue, DeadLetterURL: dlq, RetryBase: time.Minute, RetryMax: 15 * time.Minute,
	}
	return d, logs
}

func message(id, body string, receives int) lambdaevents.SQSMessage {
	return lambdaevents.SQSMessage{
		MessageId: id, ReceiptHandle: "rh-" + id, Body: body, EventSourceARN: queueARN,
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(receives)},
	}
}

func failedIDs(resp lambdaevents.SQSEventResponse) []string {
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	slices.Sort(out)
	return out
}

func TestDeliveredBody(t *testing.T) {
	recv := newReceiver(t)
	d, logs := deliverer(recv.srv.URL, nil, "")
	resp, err := d.Handle(context.Background(), lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		message("m1", string(events.Example(events.ModelRegistered)), 1),
		message("m2", string(events.Example(events.ModelReadyToDeploy)), 1),
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v, %v", resp, err)
	}
	got := recv.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	byType := map[string]received{}
	for _, r := range got {
		byType[r.body["event_type"].(string)] = r
	}
	for _, dt := range events.DetailTypes {
		var ev events.Event
		if err := json.Unmarshal(events.Example(dt), &ev); err != nil {
			t.Fatal(err)
		}
		r, ok := byType[dt]
		if !ok {
			t.Fatalf("no %s delivery", dt)
		}
		if r.key != ev.Detail.EventID {
			t.Errorf("idempotency key %q, want the event id %s", r.key, ev.Detail.EventID)
		}
		want := map[string]any{
			"event_type": dt, "timestamp": ev.Detail.Timestamp, "source": "mlflow",
			"model": map[string]any{
				"id": "xray", "name": "hokusai-XRAY", "version": "3", "status": "registered",
				"run_id": ev.Detail.MLflowRunID, "user_id": ev.Detail.UserID, "api_schema": ev.Detail.APISchema,
				"eval_spec": *ev.Detail.EvalSpec, "scorer_ref": *ev.Detail.ScorerRef,
				"primary_metric": *ev.Detail.PrimaryMetric, "benchmark_spec_id": *ev.Detail.BenchmarkSpecID,
			},
		}
		if !jsonEqual(r.body, want) {
			t.Errorf("%s body\n got %v\nwant %v", dt, r.body, want)
		}
	}
	if strings.Contains(logs.String(), string(secret)) || strings.Contains(logs.String(), "sha256=") {
		t.Errorf("secret or signature logged: %s", logs)
	}
}

func TestOptionalFieldsAreLeftOut(t *testing.T) {
	recv := newReceiver(t)
	d, _ := deliverer(recv.srv.URL, nil, "")
	detail := events.NewDetail(events.ModelRegistered, events.Detail{
		ModelID: "m/1/TOK-2", TokenSymbol: "TOK-2", MetricName: "f1", BaselineValue: 0.1, CurrentValue: 0.1,
		ModelName: "m", ModelVersion: "1", ProposalIdentifier: "TOK-2", Timestamp: "2026-01-15T10:30:00Z",
		UserID: "u", RegistrationID: "r",
	})
	resp, _ := d.Handle(context.Background(), lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		message("m1", envelope(t, events.ModelRegistered, detail), 1),
	}})
	if len(resp.BatchItemFailures) != 0 || len(recv.requests()) != 1 {
		t.Fatalf("resp %+v", resp)
	}
	model := recv.requests()[0].body["model"].(map[string]any)
	want := map[string]any{"id": "tok-2", "name": "m", "version": "1", "status": "registered", "user_id": "u"}
	if !jsonEqual(model, want) {
		t.Errorf("model %v, want %v (no nulls, no empty run id)", model, want)
	}
}

// TestRetriedUntilDelivered is one message through three receives: the receiver fails twice, then
// accepts. Each failure is reported and backed off longer; every attempt carries the same key.
func TestRetriedUntilDelivered(t *testing.T) {
	recv := newReceiver(t, http.StatusServiceUnavailable, http.StatusBadGateway)
	q := &fakeQueue{}
	d, _ := deliverer(recv.srv.URL, q, "https://sqs.example/123456789012/webhook-dlq")
	body := string(events.Example(events.ModelRegistered))
	for receive := 1; receive <= 3; receive++ {
		resp, err := d.Handle(context.Background(), lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message("m1", body, receive)}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"m1"}
		if receive == 3 {
			want = nil
		}
		if got := failedIDs(resp); !slices.Equal(got, want) {
			t.Errorf("receive %d: failures %v, want %v", receive, got, want)
		}
	}
	got := recv.requests()
	if len(got) != 3 || got[0].key != got[1].key || got[1].key != got[2].key || got[0].key == "" {
		t.Errorf("requests %+v", got)
	}
	if !slices.Equal(q.visibility, []int32{60, 120}) || q.urlLookups != 1 || len(q.dead) != 0 {
		t.Errorf("visibility %v, url lookups %d, dead-lettered %d", q.visibility, q.urlLookups, len(q.dead))
	}
}

func TestReceiverAnswers(t *testing.T) {
	const dlq = "https://sqs.example/123456789012/webhook-dlq"
	tests := []struct {
		status      int
		dlq         string
		wantFailed  bool
		wantDead    bool
		wantBackoff bool
	}{
		{status: 200, dlq: dlq}, {status: 202, dlq: dlq}, {status: 204, dlq: dlq},
		{status: 500, dlq: dlq, wantFailed: true, wantBackoff: true},
		{status: 503, dlq: dlq, wantFailed: true, wantBackoff: true},
		{status: 408, dlq: dlq, wantFailed: true, wantBackoff: true},
		{status: 425, dlq: dlq, wantFailed: true, wantBackoff: true},
		{status: 429, dlq: dlq, wantFailed: true, wantBackoff: true},
		{status: 400, dlq: dlq, wantDead: true},
		{status: 401, dlq: dlq, wantDead: true},
		{status: 404, dlq: dlq, wantDead: true},
		{status: 422, dlq: dlq, wantDead: true},
		{status: 302, dlq: dlq, wantDead: true},
		// Without a dead-letter URL a permanent failure is left to the queue's redrive policy.
		{status: 422, wantFailed: true, wantBackoff: true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d dlq=%v", tc.status, tc.dlq != ""), func(t *testing.T) {
			recv := newReceiver(t, tc.status)
			q := &fakeQueue{}
			d, logs := deliverer(recv.srv.URL, q, tc.dlq)
			resp, _ := d.Handle(context.Background(), lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
				message("m1", string(events.Example(events.ModelReadyToDeploy)), 1),
			}})
			if got := len(resp.BatchItemFailures) == 1; got != tc.wantFailed {
				t.Errorf("reported failed %v, want %v", got, tc.wantFailed)
			}
			if got := len(q.dead) == 1; got != tc.wantDead {
				t.Errorf("dead-lettered %v, want %v", got, tc.wantDead)
			}
			if got := len(q.visibility) == 1; got != tc.wantBackoff {
				t.Errorf("backed off %v, want %v", got, tc.wantBackoff)
			}
			if n := len(recv.requests()); n != 1 {
				t.Errorf("%d requests: redirects must not be followed", n)
			}
			if tc.wantDead {
				m := q.dead[0]
				if aws.ToString(m.QueueUrl) != dlq || aws.ToString(m.MessageBody) != string(events.Example(events.ModelReadyToDeploy)) ||
					!strings.Contains(aws.ToString(m.MessageAttributes["failure_reason"].StringValue), fmt.Sprint(tc.status)) {
					t.Errorf("dead letter %+v", m)
				}
				if !strings.Contains(logs.String(), "failed permanently") {
					t.Errorf("not logged: %s", logs)
				}
			}
		})
	}
}

func TestInvalidMessages(t *testing.T) {
	valid := string(events.Example(events.ModelRegistered))
	for name, body := range map[string]string{
		"not JSON":              "{",
		"empty":                 "",
		"another source":        strings.Replace(valid, `"hokusai.registry"`, `"aws.s3"`, 1),
		"unknown detail type":   strings.Replace(valid, `"detail-type": "model_registered"`, `"detail-type": "model_deleted"`, 1),
		"detail breaks schema":  strings.Replace(valid, `"status": "registered"`, `"status": "deleted"`, 1),
		"event id not a uuid":   strings.Replace(valid, `"event_id": "`, `"event_id": "x\r\nX-Evil: 1`, 1),
		"no detail":             `{"source":"hokusai.registry","detail-type":"model_registered"}`,
		"detail of wrong shape": `{"source":"hokusai.registry","detail-type":"model_registered","detail":[1]}`,
	} {
		t.Run(name, func(t *testing.T) {
			recv := newReceiver(t)
			q := &fakeQueue{}
			d, logs := deliverer(recv.srv.URL, q, "https://sqs.example/dlq")
			resp, _ := d.Handle(context.Background(), lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{message("bad", body, 1)}})
			if len(resp.BatchItemFailures) != 0 || len(q.dead) != 1 || len(recv.requests()) != 0 {
				t.Errorf("failures %v, dead-lettered %d, requests %d", resp.BatchItemFailures, len(q.dead), len(recv.requests()))
			}
			if !strings.Contains(logs.String(), "invalid event") {
				t.Errorf("not logged: %s", logs)
			}
		})
	}
}

func TestMixedBatch(t *testing.T) {
	var mu sync.Mutex
	var delivered []string
	// The receiver fails every model_ready_to_deploy delivery.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhook.Payload
		if !webhook.Verify(secret, body, r.Header.Get(webhook.HeaderSignature)) || json.Unmarshal(body, &p) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if p.EventType == events.ModelReadyToDeploy {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		mu.Lock()
		delivered = append(delivered, p.EventType)
		mu.Unlock()
	}))
	defer srv.Close()
	batch := []lambdaevents.SQSMessage{
		message("ok", string(events.Example(events.ModelRegistered)), 1),
		message("fails", string(events.Example(events.ModelReadyToDeploy)), 1),
		message("invalid", "{}", 1),
	}

	d, _ := deliverer(srv.URL, nil, "")
	resp, _ := d.Handle(context.Background(), lambdaevents.SQSEvent{Records: batch})
	if got := failedIDs(resp); !slices.Equal(got, []string{"fails", "invalid"}) {
		t.Errorf("failures %v (no DLQ configured: the invalid one goes by redrive)", got)
	}
	if !slices.Equal(delivered, []string{events.ModelRegistered}) {
		t.Errorf("delivered %v", delivered)
	}

	// A detail type the webhook does not take is dropped: neither sent nor failed.
	d.DetailTypes = []string{events.ModelRegistered}
	resp, _ = d.Handle(context.Background(), lambdaevents.SQSEvent{Records: batch[1:2]})
	if len(resp.BatchItemFailures) != 0 {
		t.Errorf("unconfigured detail type reported failed: %v", resp.BatchItemFailures)
	}
}

func TestTransientTransportFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	slow := newReceiver(t)
	slow.hang = true

	// A delivery that ignored its bounds would wait for the hanging receiver's minute and then
	// succeed; the checks below catch that by its outcome. The wall-clock bound is only there
	// to fail such a run sooner, far from what a busy machine needs.
	const bound = 30 * time.Second
	tests := []struct {
		name      string
		url       string
		timeout   time.Duration
		ctx       func() (context.Context, context.CancelFunc)
		wantCalls int32
	}{
		{"connection refused", closed.URL, 100 * time.Millisecond, noDeadline, 0},
		{"receiver slower than WEBHOOK_TIMEOUT", slow.srv.URL, 100 * time.Millisecond, noDeadline, 1},
		// Whether the POST goes out depends on how much of the 200 ms past the margin a busy
		// machine leaves, so the count is not asserted (-1); the bound still catches a delivery
		// that waited for its ten-minute timeout instead of the invocation's deadline.
		{"invocation deadline nearer than the timeout", slow.srv.URL, 10 * time.Minute, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 1200*time.Millisecond)
		}, -1},
		// Less than the deadline margin left: no request is sent at all.
		{"no time left in the invocation", slow.srv.URL, 10 * time.Minute, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 500*time.Millisecond)
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := &fakeQueue{}
			d, logs := deliverer(tc.url, q, "https://sqs.example/dlq")
			d.Timeout = tc.timeout
			ctx, cancel := tc.ctx()
			defer cancel()
			before := slow.calls.Load()
			start := time.Now()
			resp, _ := d.Handle(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
				message("m1", string(events.Example(events.ModelRegistered)), 4),
			}})
			if took := time.Since(start); took > bound {
				t.Errorf("took %s: the delivery waited for the receiver", took)
			}
			if calls := slow.calls.Load() - before; tc.url == slow.srv.URL && tc.wantCalls >= 0 && calls != tc.wantCalls {
				t.Errorf("receiver got %d requests, want %d", calls, tc.wantCalls)
			}
			if len(resp.BatchItemFailures) != 1 || len(q.dead) != 0 {
				t.Errorf("failures %v, dead-lettered %d", resp.BatchItemFailures, len(q.dead))
			}
			if len(q.visibility) == 1 && q.visibility[0] != 480 {
				t.Errorf("fourth receive backed off %d s, want 480", q.visibility[0])
			}
			if strings.Contains(logs.String(), tc.url) {
				t.Errorf("webhook URL logged: %s", logs)
			}
		})
	}
}

func noDeadline() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}

func TestDeadLetterFailureFallsBackToRedrive(t *testing.T) {
	recv := newReceiver(t, http.StatusForbidden)
	q := &fakeQueue{sendErr: errors.New("AccessDenied")}
	d, _ := deliverer(recv.srv.URL, q, "https://sqs.example/dlq")
	resp, _ := d.Handle(context.Background(), lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
		message("m1", string(events.Example(events.ModelRegistered)), 1),
	}})
	if len(resp.BatchItemFailures) != 1 {
		t.Errorf("a message that could not be dead-lettered was dropped")
	}
}

func TestBackoffCaps(t *testing.T) {
	recv := newReceiver(t, 500, 500, 500, 500)
	q := &fakeQueue{}
	d, _ := deliverer(recv.srv.URL, q, "")
	for _, receives := range []int{0, 5, 60, 1000} {
		_, _ = d.Handle(context.Background(), lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{
			message("m1", string(events.Example(events.ModelRegistered)), receives),
		}})
	}
	if !slices.Equal(q.visibility, []int32{60, 900, 900, 900}) {
		t.Errorf("visibility %v", q.visibility)
	}
}

type fakeSecrets struct {
	out *secretsmanager.GetSecretValueOutput
	err error
}

func (f fakeSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return f.out, f.err
}

func TestLoadSecret(t *testing.T) {
	tests := []struct {
		name    string
		sm      fakeSecrets
		want    string
		wantErr bool
	}{
		{"string", fakeSecrets{out: &secretsmanager.GetSecretValueOutput{SecretString: aws.String("k3y")}}, "k3y", false},
		{"binary", fakeSecrets{out: &secretsmanager.GetSecretValueOutput{SecretBinary: []byte("b1n")}}, "b1n", false},
		{"empty", fakeSecrets{out: &secretsmanager.GetSecretValueOutput{SecretString: aws.String("")}}, "", true},
		{"unreadable", fakeSecrets{err: errors.New("AccessDeniedException")}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := webhook.LoadSecret(context.Background(), tc.sm, "arn:aws:secretsmanager:us-east-1:1:secret:wh")
			if (err != nil) != tc.wantErr || string(got) != tc.want {
				t.Errorf("LoadSecret = %q, %v", got, err)
			}
			if err != nil && !strings.Contains(err.Error(), "secret:wh") {
				t.Errorf("error does not name the secret: %v", err)
			}
		})
	}
}

// envelope wraps a detail as EventBridge delivers it to an SQS target.
func envelope(t testing.TB, detailType string, d events.Detail) string {
	t.Helper()
	b, err := json.Marshal(events.Event{
		Version: "0", ID: "eb-1", DetailType: detailType, Source: events.Source, Account: "123456789012",
		Time: time.Date(2026, 1, 15, 10, 30, 1, 0, time.UTC), Region: "us-east-1", Resources: []string{}, Detail: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonEqual compares a and b as JSON values.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	var u, v any
	_ = json.Unmarshal(x, &u)
	_ = json.Unmarshal(y, &v)
	return reflect.DeepEqual(u, v)
}
