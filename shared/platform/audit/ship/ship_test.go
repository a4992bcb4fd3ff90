package ship_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit/ship"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ev(ts int64, size int) types.InputLogEvent {
	return types.InputLogEvent{Timestamp: aws.Int64(ts), Message: aws.String(strings.Repeat("x", size))}
}

// Batches respect every PutLogEvents limit and keep each call's events in time order.
func TestBatchesKeepPutLogEventsLimits(t *testing.T) {
	day := int64(24 * time.Hour / time.Millisecond)
	many := make([]types.InputLogEvent, 25001)
	for i := range many {
		many[i] = ev(int64(len(many)-i), 10) // newest first: must come out sorted
	}
	big := make([]types.InputLogEvent, 9)
	for i := range big {
		big[i] = ev(int64(i), ship.MaxEventBytes-ship.EventOverhead) // 4 fit in 1 MB
	}
	exact := []types.InputLogEvent{ev(1, ship.MaxBatchBytes/2-ship.EventOverhead), ev(2, ship.MaxBatchBytes/2-ship.EventOverhead), ev(3, 0)}
	for _, tc := range []struct {
		name  string
		in    []types.InputLogEvent
		sizes []int
	}{
		{"none", nil, nil},
		{"by count", many, []int{10000, 10000, 5001}},
		{"by bytes", big, []int{4, 4, 1}},
		{"bytes exactly at the limit", exact, []int{2, 1}},
		{"by span", []types.InputLogEvent{ev(0, 1), ev(day, 1), ev(day+1, 1), ev(3*day, 1)}, []int{2, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ship.Batches(tc.in)
			var sizes []int
			total := 0
			for _, b := range got {
				sizes = append(sizes, len(b))
				bytes := 0
				for i, e := range b {
					bytes += len(*e.Message) + ship.EventOverhead
					if i > 0 && *e.Timestamp < *b[i-1].Timestamp {
						t.Fatalf("out of order")
					}
				}
				if len(b) > ship.MaxBatchEvents || bytes > ship.MaxBatchBytes ||
					time.Duration(*b[len(b)-1].Timestamp-*b[0].Timestamp)*time.Millisecond > ship.MaxBatchSpan {
					t.Errorf("a batch over the limits: %d events, %d bytes", len(b), bytes)
				}
				total += len(b)
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.sizes) || total != len(tc.in) {
				t.Errorf("batch sizes %v, want %v", sizes, tc.sizes)
			}
		})
	}
}

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

func TestDecodeUglyInput(t *testing.T) {
	bomb := func() string {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		chunk := make([]byte, 1<<20)
		for range ship.MaxPayload>>20 + 1 {
			_, _ = w.Write(chunk)
		}
		_ = w.Close()
		return base64.StdEncoding.EncodeToString(b.Bytes())
	}()
	for name, data := range map[string]string{
		"empty":              "",
		"not base64":         "%%%",
		"not gzip":           base64.StdEncoding.EncodeToString([]byte("plain")),
		"truncated gzip":     gz(`{"messageType":"DATA_MESSAGE"}`)[:20],
		"not JSON":           gz("nope"),
		"unknown type":       gz(`{"messageType":"OTHER","logGroup":"g"}`),
		"data without group": gz(`{"messageType":"DATA_MESSAGE","logEvents":[]}`),
		"events not a list":  gz(`{"messageType":"DATA_MESSAGE","logGroup":"g","logEvents":{}}`),
		"a gzip bomb":        bomb,
	} {
		if _, err := ship.Decode(data); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	p, err := ship.Decode(gz(`{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE"}]}`))
	if err != nil || p.MessageType != ship.ControlMessage {
		t.Errorf("control message: %v %+v", err, p)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := ship.Encode(ship.Payload{MessageType: ship.DataMessage, LogGroup: "/g", LogStream: "s",
		LogEvents: []ship.LogEvent{{ID: "1", Timestamp: 5, Message: `{"hokusai_audit":"v1"}`}}})
	for _, s := range []string{good, "", "%%%", gz("{}"), gz(`{"messageType":"DATA_MESSAGE"}`), good[:len(good)/2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		p, err := ship.Decode(data)
		if err != nil {
			return
		}
		again, err := ship.Encode(p)
		if err != nil {
			t.Fatalf("decoded but cannot encode: %v", err)
		}
		if q, err := ship.Decode(again); err != nil || q.MessageType != p.MessageType || len(q.LogEvents) != len(p.LogEvents) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// The shipper writes the audit lines of a subscription event into the audit group (moto's
// CloudWatch Logs), creating the stream, in time order, and nothing else that reached it.
func TestHandleWritesTheAuditGroup(t *testing.T) {
	ctx := context.Background()
	logs := cloudwatchlogs.NewFromConfig(testenv.AWS(t))
	group := fmt.Sprintf("/hokusai/test/audit-%d", time.Now().UnixNano())
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); err != nil {
		t.Fatal(err)
	}
	line := func(op string) string {
		b, _ := audit.Line(audit.Record{Operation: op, Time: time.Now()})
		return strings.TrimSpace(string(b))
	}
	now := time.Now().UnixMilli()
	payload := ship.Payload{MessageType: ship.DataMessage, LogGroup: "/aws/lambda/mlflowproxy", LogStream: "2025/01/01/[$LATEST]abc",
		LogEvents: []ship.LogEvent{
			{ID: "2", Timestamp: now, Message: line("Second")},
			{ID: "1", Timestamp: now - 1000, Message: line("First")},
			{ID: "3", Timestamp: now, Message: `{"level":"INFO","msg":"not audit"}`},
			{ID: "4", Timestamp: now, Message: `{"hokusai_audit":"v1","key":"hk_live_0123456789abcdefghij"}`},
		}}
	data, err := ship.Encode(payload)
	if err != nil {
		t.Fatal(err)
	}
	s := ship.New(logs, group, slog.New(slog.DiscardHandler))
	for range 2 { // the second call finds the stream there
		if err := s.Handle(ctx, events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{Data: data}}); err != nil {
			t.Fatal(err)
		}
	}
	stream := ship.StreamName(payload.LogGroup, payload.LogStream)
	out, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: &group, LogStreamName: &stream, StartFromHead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range out.Events {
		if strings.Contains(*e.Message, "0123456789abcdefghij") || !audit.Is([]byte(*e.Message)) {
			t.Errorf("written: %s", *e.Message)
		}
		got = append(got, *e.Message)
	}
	if len(got) != 6 || !strings.Contains(got[0], `"First"`) || !strings.Contains(got[1], `"First"`) || !strings.Contains(got[2], `"Second"`) {
		t.Errorf("audit group holds %q", got)
	}
	// A control message and an undecodable event write nothing and are not retried.
	for _, d := range []string{gz(`{"messageType":"CONTROL_MESSAGE"}`), "garbage"} {
		if err := s.Handle(ctx, events.CloudwatchLogsEvent{AWSLogs: events.CloudwatchLogsRawData{Data: d}}); err != nil {
			t.Errorf("%q: %v", d, err)
		}
	}
}

func TestStreamName(t *testing.T) {
	if got := ship.StreamName("/aws/lambda/fn", "2025/01/01/[$LATEST]a:b*c"); got != "fn/2025/01/01/[$LATEST]a_b_c" {
		t.Errorf("%q", got)
	}
	if got := ship.StreamName("g", strings.Repeat("s", 600)); len(got) != 512 {
		t.Errorf("len %d", len(got))
	}
}
