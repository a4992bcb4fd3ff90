package triggers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/hokusai-protocol/registry-gateway/infra/local/lambdart"
	"github.com/hokusai-protocol/registry-gateway/infra/local/provision"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit/ship"
)

func logModel(pattern string) *template.Model {
	return &template.Model{
		Functions: map[string]*template.Function{
			"Emitter": {LogicalID: "Emitter", LogGroup: "/g/emitter"},
			"Quiet":   {LogicalID: "Quiet", LogGroup: "/g/quiet"},
			"Audit":   {LogicalID: "Audit", LogGroup: "/g/audit"},
		},
		SubscriptionFilters: []*template.SubscriptionFilter{
			{LogicalID: "F", Name: "stack-F", LogGroup: "/g/emitter", FilterPattern: pattern, Function: "Audit"},
		},
	}
}

// The lines of a function's output that the filter matches reach the destination as CloudWatch
// Logs sends them: one asynchronous invocation per log stream's batch, its awslogs.data the
// gzip+base64 payload naming group, stream and filter; the writer never waits for delivery.
func TestSubscriptionFilterDeliversMatchingLines(t *testing.T) {
	release := make(chan struct{})
	inv := &fakeInvoker{respond: func(call, int) (*lambdart.Result, error) {
		<-release // the destination is slow: writers must not notice
		return &lambdart.Result{Payload: []byte("null")}, nil
	}}
	m := logModel(audit.FilterPattern)
	r := New(aws.Config{}, m, &provision.Resources{}, inv, Options{LogBatchWindow: 50 * time.Millisecond})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	if r.LogSink(m.Functions["Quiet"]) != nil {
		t.Error("a function without a filter on its group has a sink")
	}
	sink := r.LogSink(m.Functions["Emitter"])
	line := func(op string) string {
		b, _ := audit.Line(audit.Record{Operation: op})
		return strings.TrimSpace(string(b))
	}
	at := time.UnixMilli(1_700_000_000_000)
	for i, l := range []struct{ stream, line string }{
		{"s1", line("A")}, {"s1", `{"level":"INFO","msg":"not audit"}`}, {"s2", line("B")},
		{"s1", "plain text"}, {"s1", line("C")}, {"s2", `{"hokusai_audit":"v2"}`},
	} {
		sink(l.stream, at.Add(time.Duration(i)*time.Millisecond), l.line)
	}
	close(release)
	eventually(t, "two deliveries", func() bool { return len(inv.callsOf("Audit")) == 2 })
	got := map[string][]string{}
	for _, c := range inv.callsOf("Audit") {
		var ev events.CloudwatchLogsEvent
		if err := json.Unmarshal(c.payload, &ev); err != nil {
			t.Fatal(err)
		}
		p, err := ship.Decode(ev.AWSLogs.Data)
		if err != nil {
			t.Fatal(err)
		}
		if p.MessageType != ship.DataMessage || p.LogGroup != "/g/emitter" || p.Owner != template.AccountID ||
			len(p.SubscriptionFilters) != 1 || p.SubscriptionFilters[0] != "stack-F" {
			t.Errorf("payload %+v", p)
		}
		ids := map[string]bool{}
		for _, e := range p.LogEvents {
			if !audit.Is([]byte(e.Message)) || e.Timestamp < at.UnixMilli() || ids[e.ID] || e.ID == "" {
				t.Errorf("event %+v", e)
			}
			ids[e.ID] = true
			var rec audit.Record
			_ = json.Unmarshal([]byte(e.Message), &rec)
			got[p.LogStream] = append(got[p.LogStream], rec.Operation)
		}
	}
	if strings.Join(got["s1"], ",") != "A,C" || strings.Join(got["s2"], ",") != "B" {
		t.Errorf("delivered %v", got)
	}
}

// A filter pattern the harness cannot apply stops it at start, naming the filter.
func TestUnsupportedFilterPatternFailsStart(t *testing.T) {
	r := New(aws.Config{}, logModel(`ERROR -DEBUG`), &provision.Resources{}, &fakeInvoker{}, Options{})
	err := r.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "subscription filter F") {
		t.Fatalf("Start = %v", err)
	}
	r.Stop()
}
