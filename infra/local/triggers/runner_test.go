package triggers

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/infra/local/lambdart"
	"github.com/hokusai-protocol/registry-gateway/infra/local/provision"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// The package's moto server (testenv.Moto) is started by the first test and stopped here.
func TestMain(m *testing.M) { testenv.Main(m) }

// fakeInvoker records invocations and answers them with respond (success by default).
type fakeInvoker struct {
	mu      sync.Mutex
	calls   []call
	respond func(c call, n int) (*lambdart.Result, error) // n counts the calls of c.function, from 1
}

type call struct {
	function string
	payload  []byte
	at       time.Time
}

func (f *fakeInvoker) Invoke(ctx context.Context, function string, payload []byte) (*lambdart.Result, error) {
	f.mu.Lock()
	c := call{function, payload, time.Now()}
	f.calls = append(f.calls, c)
	n := 0
	for _, x := range f.calls {
		if x.function == function {
			n++
		}
	}
	respond := f.respond
	f.mu.Unlock()
	if respond == nil {
		return &lambdart.Result{Payload: []byte("null")}, nil
	}
	return respond(c, n)
}

func (f *fakeInvoker) callsOf(function string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(f.calls), func(c call) bool { return c.function != function })
}

func failing(call, int) (*lambdart.Result, error) {
	return &lambdart.Result{FunctionError: &lambdart.FunctionError{Type: "Boom", Message: "it failed"}}, nil
}

// env is one test's model provisioned in the shared moto, its resource names prefixed with the
// test's so tests do not see each other's queues.
type env struct {
	cfg    aws.Config
	prefix string
	m      *template.Model
	res    *provision.Resources
	sqs    *sqs.Client
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

func newEnv(t *testing.T, build func(name func(string) string) *template.Model) *env {
	t.Helper()
	cfg := testenv.AWS(t)
	prefix := unsafeName.ReplaceAllString(strings.ToLower(t.Name()), "-")
	m := build(func(s string) string { return prefix + "-" + s })
	res, err := provision.Provision(t.Context(), cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &env{cfg: cfg, prefix: prefix, m: m, res: res, sqs: sqs.NewFromConfig(cfg)}
}

func (e *env) start(t *testing.T, inv Invoker, opts Options) *Runner {
	t.Helper()
	opts.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	if opts.AsyncRetryDelays == nil {
		opts.AsyncRetryDelays = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}
	}
	r := New(e.cfg, e.m, e.res, inv, opts)
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r
}

func (e *env) putEvent(t *testing.T, bus, source, detailType, detail string) string {
	t.Helper()
	out, err := eventbridge.NewFromConfig(e.cfg).PutEvents(t.Context(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{EventBusName: aws.String(bus), Source: aws.String(source), DetailType: aws.String(detailType), Detail: aws.String(detail)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount > 0 {
		t.Fatalf("PutEvents: %+v", out.Entries)
	}
	return aws.ToString(out.Entries[0].EventId)
}

func (e *env) send(t *testing.T, queue, body string, attrs map[string]sqstypes.MessageAttributeValue) string {
	t.Helper()
	out, err := e.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(e.res.QueueURLs[queue]), MessageBody: aws.String(body), MessageAttributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.MessageId)
}

// receive waits up to timeout for one message on queue and deletes it.
func (e *env) receive(t *testing.T, queue string, timeout time.Duration) *sqstypes.Message {
	t.Helper()
	url := e.res.QueueURLs[queue]
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		out, err := e.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) > 0 {
			msg := out.Messages[0]
			if _, err := e.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: msg.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
			return &msg
		}
	}
	t.Fatalf("no message on %s within %s", queue, timeout)
	return nil
}

// queued is the number of messages in the queue at url, visible or in flight.
func (e *env) queued(t *testing.T, url string) int {
	t.Helper()
	out, err := e.sqs.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"} {
		v, _ := strconv.Atoi(out.Attributes[a])
		n += v
	}
	return n
}

// eventually polls cond until it holds. The bound only ends a test whose condition never comes;
// it is far above what the slowest machine needs, so no run fails for being slow.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	const bound = time.Minute
	for deadline := time.Now().Add(bound); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
	}
}

func patternRule(name func(string) string, target *template.Target) *template.Model {
	return &template.Model{
		Buses:  []*template.Bus{{LogicalID: "Bus", Name: name("bus")}},
		Queues: []*template.Queue{{LogicalID: "DLQ", Name: name("dlq")}},
		Rules: []*template.Rule{{
			LogicalID: "OnCreated", Name: name("on-created"), Bus: name("bus"), Enabled: true,
			EventPattern: json.RawMessage(`{"source":["app"],"detail-type":["Created"]}`),
			Targets:      []*template.Target{target},
		}},
	}
}

func TestRuleEventReachesFunction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(name func(string) string) *template.Model {
		return patternRule(name, &template.Target{ID: "Target0", Function: "HandlerFunction"})
	})
	inv := &fakeInvoker{}
	r := e.start(t, inv, Options{})

	e.putEvent(t, e.prefix+"-bus", "app", "Deleted", `{"id":"ignored"}`)
	id := e.putEvent(t, e.prefix+"-bus", "app", "Created", `{"id":"x1"}`)
	eventually(t, "invocation", func() bool { return len(inv.callsOf("HandlerFunction")) > 0 })

	var ev events.EventBridgeEvent
	if err := json.Unmarshal(inv.callsOf("HandlerFunction")[0].payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ID != id || ev.Source != "app" || ev.DetailType != "Created" || ev.AccountID != template.AccountID ||
		ev.Region != template.Region || string(ev.Detail) != `{"id": "x1"}` && string(ev.Detail) != `{"id":"x1"}` || ev.Time.IsZero() {
		t.Errorf("payload = %s", inv.callsOf("HandlerFunction")[0].payload)
	}
	harness := e.res.RuleTargetQueues["OnCreated/Target0"].QueueURL
	eventually(t, "harness queue emptied", func() bool { return e.queued(t, harness) == 0 })
	time.Sleep(200 * time.Millisecond) // room for a wrong second delivery
	if got := r.Stats(); got["HandlerFunction"] != 1 {
		t.Errorf("Stats = %v, want one invocation (the Deleted event does not match)", got)
	}
}

func TestRuleTargetInputAndRetriesThenDLQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(name func(string) string) *template.Model {
		return patternRule(name, &template.Target{ID: "Target0", Function: "HandlerFunction", DeadLetterQueue: "DLQ"})
	})
	inv := &fakeInvoker{respond: failing}
	delays := []time.Duration{150 * time.Millisecond, 300 * time.Millisecond}
	r := e.start(t, inv, Options{AsyncRetryDelays: delays})

	id := e.putEvent(t, e.prefix+"-bus", "app", "Created", `{"id":"x1"}`)
	msg := e.receive(t, "DLQ", time.Minute)

	calls := inv.callsOf("HandlerFunction")
	if len(calls) != 3 {
		t.Fatalf("%d invocations, want 3 (2 retries)", len(calls))
	}
	for i, d := range delays {
		if gap := calls[i+1].at.Sub(calls[i].at); gap < d {
			t.Errorf("retry %d after %s, want ≥ %s", i+1, gap, d)
		}
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &ev); err != nil || ev.ID != id {
		t.Errorf("DLQ body = %s, want event %s", aws.ToString(msg.Body), id)
	}
	if a := msg.MessageAttributes["ERROR_CODE"]; aws.ToString(a.StringValue) != "Boom" {
		t.Errorf("ERROR_CODE = %v, want Boom", aws.ToString(a.StringValue))
	}
	if a := msg.MessageAttributes["RULE_ARN"]; aws.ToString(a.StringValue) != e.res.RuleARNs["OnCreated"] {
		t.Errorf("RULE_ARN = %v", aws.ToString(a.StringValue))
	}
	if got := r.Stats()["HandlerFunction"]; got != 3 {
		t.Errorf("Stats = %d, want 3", got)
	}
}

func TestRuleTargetConstantInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(name func(string) string) *template.Model {
		return patternRule(name, &template.Target{ID: "Target0", Function: "HandlerFunction", Input: json.RawMessage(`{"constant":true}`)})
	})
	inv := &fakeInvoker{}
	e.start(t, inv, Options{})
	e.putEvent(t, e.prefix+"-bus", "app", "Created", `{"id":"x1"}`)
	eventually(t, "invocation", func() bool { return len(inv.callsOf("HandlerFunction")) > 0 })
	if got := string(inv.callsOf("HandlerFunction")[0].payload); got != `{"constant":true}` {
		t.Errorf("payload = %s, want the target's Input", got)
	}
}

func scheduleModel(expr string) func(name func(string) string) *template.Model {
	return func(name func(string) string) *template.Model {
		return &template.Model{
			Queues: []*template.Queue{{LogicalID: "Out", Name: name("out")}, {LogicalID: "OutFifo", Name: name("out.fifo"), FIFO: true}},
			Rules: []*template.Rule{{
				LogicalID: "Tick", Name: name("tick"), Bus: "default", Enabled: true, Schedule: expr,
				Targets: []*template.Target{
					{ID: "Target0", Function: "TickFunction"},
					{ID: "Target1", Function: "InputFunction", Input: json.RawMessage(`{"job":"compact"}`)},
					{ID: "Target2", Queue: "Out"},
					{ID: "Target3", Queue: "OutFifo"},
				},
			}},
		}
	}
}

func TestRunSchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, scheduleModel("rate(1 day)"))
	inv := &fakeInvoker{}
	r := e.start(t, inv, Options{})

	before := time.Now().Truncate(time.Second)
	if err := r.RunSchedule(t.Context(), "Tick"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "invocations", func() bool {
		return len(inv.callsOf("TickFunction")) == 1 && len(inv.callsOf("InputFunction")) == 1
	})
	var ev events.EventBridgeEvent
	payload := inv.callsOf("TickFunction")[0].payload
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Version != "0" || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.AccountID != template.AccountID ||
		ev.Region != template.Region || string(ev.Detail) != "{}" || len(ev.ID) != 36 ||
		!slices.Equal(ev.Resources, []string{e.res.RuleARNs["Tick"]}) || ev.Time.Before(before) || ev.Time.After(time.Now()) {
		t.Errorf("scheduled event = %s", payload)
	}
	if got := string(inv.callsOf("InputFunction")[0].payload); got != `{"job":"compact"}` {
		t.Errorf("Input target got %s", got)
	}
	for _, q := range []string{"Out", "OutFifo"} {
		if body := aws.ToString(e.receive(t, q, time.Minute).Body); body != string(payload) {
			t.Errorf("%s got %s, want the same event as the function", q, body)
		}
	}

	if err := r.RunSchedule(t.Context(), "Nope"); err == nil {
		t.Error("RunSchedule of an unknown rule: no error")
	}
}

// A scaled clock makes rate(1 minute) fire every 200ms; the events carry the scaled times.
func TestScheduleFiresOnItsOwn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, scheduleModel("rate(1 minute)"))
	inv := &fakeInvoker{}
	start := time.Now()
	e.start(t, inv, Options{ScheduleScale: 1.0 / 300})
	eventually(t, "three firings", func() bool { return len(inv.callsOf("TickFunction")) >= 3 })
	calls := inv.callsOf("TickFunction")
	if first := calls[0].at.Sub(start); first < 150*time.Millisecond {
		t.Errorf("first firing after %s, want one scaled minute (200ms)", first)
	}
	var times []time.Time
	for _, c := range calls[:3] {
		var ev events.EventBridgeEvent
		if err := json.Unmarshal(c.payload, &ev); err != nil {
			t.Fatal(err)
		}
		times = append(times, ev.Time)
	}
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d != time.Minute {
			t.Errorf("event times %s and %s are %s apart, want a minute", times[i-1], times[i], d)
		}
	}
}

func esmModel(batchSize, maxReceive int, window time.Duration, reportFailures bool) func(name func(string) string) *template.Model {
	return func(name func(string) string) *template.Model {
		return &template.Model{
			Queues: []*template.Queue{
				{LogicalID: "Work", Name: name("work"), VisibilityTimeout: time.Second, DeadLetterQueue: "WorkDLQ", MaxReceiveCount: maxReceive},
				{LogicalID: "WorkDLQ", Name: name("work-dlq")},
			},
			EventSourceMappings: []*template.EventSourceMapping{{
				LogicalID: "WorkMapping", Function: "WorkerFunction", Queue: "Work", Enabled: true,
				BatchSize: batchSize, MaxBatchingWindow: window, ReportBatchItemFailures: reportFailures,
			}},
		}
	}
}

func records(t *testing.T, c call) []events.SQSMessage {
	t.Helper()
	var ev events.SQSEvent
	if err := json.Unmarshal(c.payload, &ev); err != nil {
		t.Fatal(err)
	}
	return ev.Records
}

func TestESMDeliversBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, esmModel(5, 3, 300*time.Millisecond, false))
	ids := []string{
		e.send(t, "Work", "one", map[string]sqstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("greeting")}}),
		e.send(t, "Work", "two", nil),
		e.send(t, "Work", "three", nil),
	}
	inv := &fakeInvoker{}
	r := e.start(t, inv, Options{})
	eventually(t, "queue emptied", func() bool { return e.queued(t, e.res.QueueURLs["Work"]) == 0 })

	calls := inv.callsOf("WorkerFunction")
	if len(calls) != 1 {
		t.Fatalf("%d invocations, want one batch", len(calls))
	}
	recs := records(t, calls[0])
	var gotIDs []string
	for _, rec := range recs {
		gotIDs = append(gotIDs, rec.MessageId)
		if rec.EventSource != "aws:sqs" || rec.EventSourceARN != e.res.QueueARNs["Work"] || rec.AWSRegion != template.Region ||
			rec.ReceiptHandle == "" || rec.Md5OfBody == "" || rec.Attributes["ApproximateReceiveCount"] != "1" || rec.Attributes["SentTimestamp"] == "" {
			t.Errorf("record = %+v", rec)
		}
	}
	if !slices.Equal(gotIDs, ids) {
		t.Errorf("batch ids = %v, want %v", gotIDs, ids)
	}
	if a := recs[0].MessageAttributes["kind"]; a.DataType != "String" || a.StringValue == nil || *a.StringValue != "greeting" || recs[0].Md5OfMessageAttributes == "" {
		t.Errorf("message attributes = %+v", recs[0].MessageAttributes)
	}
	if got := r.Stats()["WorkerFunction"]; got != 1 {
		t.Errorf("Stats = %d, want 1", got)
	}
}

func TestESMPartialBatchFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, esmModel(10, 5, 0, true))
	e.send(t, "Work", "ok1", nil)
	bad := e.send(t, "Work", "bad", nil)
	e.send(t, "Work", "ok2", nil)
	inv := &fakeInvoker{respond: func(c call, n int) (*lambdart.Result, error) {
		if n > 1 {
			return &lambdart.Result{Payload: []byte(`{"batchItemFailures":[]}`)}, nil
		}
		return &lambdart.Result{Payload: []byte(`{"batchItemFailures":[{"itemIdentifier":"` + bad + `"}]}`)}, nil
	}}
	e.start(t, inv, Options{})
	eventually(t, "queue emptied", func() bool { return e.queued(t, e.res.QueueURLs["Work"]) == 0 })

	calls := inv.callsOf("WorkerFunction")
	if len(calls) != 2 {
		t.Fatalf("%d invocations, want the batch and then the failed message", len(calls))
	}
	if n := len(records(t, calls[0])); n != 3 {
		t.Errorf("first batch has %d messages, want 3", n)
	}
	again := records(t, calls[1])
	if len(again) != 1 || again[0].MessageId != bad || again[0].Attributes["ApproximateReceiveCount"] != "2" {
		t.Errorf("second batch = %+v, want only the failed message, received a second time", again)
	}
	if gap := calls[1].at.Sub(calls[0].at); gap < 900*time.Millisecond {
		t.Errorf("redelivered after %s, want after the 1s visibility timeout", gap)
	}
}

func TestESMFailingMessageEndsInDLQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t, esmModel(10, 2, 0, false))
	id := e.send(t, "Work", "poison", nil)
	inv := &fakeInvoker{respond: failing}
	r := e.start(t, inv, Options{})

	msg := e.receive(t, "WorkDLQ", time.Minute)
	if aws.ToString(msg.MessageId) != id || aws.ToString(msg.Body) != "poison" {
		t.Errorf("DLQ got %s %q", aws.ToString(msg.MessageId), aws.ToString(msg.Body))
	}
	if got := r.Stats()["WorkerFunction"]; got != 2 {
		t.Errorf("function saw the message %d times, want maxReceiveCount (2)", got)
	}
}

func TestStopEndsEveryGoroutine(t *testing.T) {
	e := newEnv(t, func(name func(string) string) *template.Model {
		m := patternRule(name, &template.Target{ID: "Target0", Function: "HandlerFunction"})
		sched := scheduleModel("rate(1 minute)")(name)
		work := esmModel(10, 3, time.Second, true)(name)
		m.Queues = slices.Concat(m.Queues, sched.Queues, work.Queues)
		m.Rules = append(m.Rules, sched.Rules...)
		m.EventSourceMappings = work.EventSourceMappings
		return m
	})
	inv := &fakeInvoker{respond: failing}
	r := New(e.cfg, e.m, e.res, inv, Options{
		Log:              slog.New(slog.NewTextHandler(t.Output(), nil)),
		PollInterval:     50 * time.Millisecond,
		AsyncRetryDelays: []time.Duration{time.Hour}, // a retry pending at Stop
	})
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); err == nil {
		t.Error("second Start: no error")
	}
	e.putEvent(t, e.prefix+"-bus", "app", "Created", `{}`)
	eventually(t, "first attempt", func() bool { return len(inv.callsOf("HandlerFunction")) == 1 })
	if n := runnerGoroutines(); n == 0 {
		t.Fatal("no runner goroutines found while running; the check below would prove nothing")
	}

	start := time.Now()
	r.Stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Stop took %s", d)
	}
	if n := runnerGoroutines(); n != 0 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d runner goroutines left after Stop:\n%s", n, buf[:runtime.Stack(buf, true)])
	}
	r.Stop() // idempotent
	if err := r.RunSchedule(t.Context(), "Tick"); err == nil {
		t.Error("RunSchedule after Stop: no error")
	}
}

// runnerGoroutines counts goroutines running code of this package's Runner.
func runnerGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "infra/local/triggers.(*Runner)") && !strings.Contains(g, "TestStopEndsEveryGoroutine") {
			n++
		}
	}
	return n
}

func TestBatchItemFailures(t *testing.T) {
	recs := []events.SQSMessage{{MessageId: "a"}, {MessageId: "b"}}
	for _, tc := range []struct {
		payload string
		want    []string
		err     bool
	}{
		{``, nil, false},
		{`null`, nil, false},
		{`{}`, nil, false},
		{`{"batchItemFailures":null}`, nil, false},
		{`{"batchItemFailures":[]}`, nil, false},
		{`{"batchItemFailures":[{"itemIdentifier":"b"}]}`, []string{"b"}, false},
		{`{"batchItemFailures":[{"itemIdentifier":"c"}]}`, nil, true},
		{`{"batchItemFailures":[{"itemIdentifier":""}]}`, nil, true},
		{`{"batchItemFailures":[{"itemId":"a"}]}`, nil, true},
		{`"ok"`, nil, true},
		{`{`, nil, true},
	} {
		got, err := batchItemFailures([]byte(tc.payload), recs)
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v, want error %v", tc.payload, err, tc.err)
			continue
		}
		var ids []string
		for id := range got {
			ids = append(ids, id)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%s: failed = %v, want %v", tc.payload, ids, tc.want)
		}
	}
}

func TestRulePayloadAddsAccount(t *testing.T) {
	body := `{"id": "e1", "time": "2026-01-01T00:00:00Z", "version": "0", "detail-type": "x", "source": "s", "region": "us-east-1", "resources": [], "detail": {"a": 1}}`
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(rulePayload(&template.Target{}, body), &ev); err != nil || ev.AccountID != template.AccountID || ev.ID != "e1" {
		t.Errorf("payload = %+v, %v", ev, err)
	}
	if got := string(rulePayload(&template.Target{}, "not json")); got != "not json" {
		t.Errorf("payload = %q, want the body as it came", got)
	}
}
