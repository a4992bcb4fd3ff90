// Package eventpubtest gives tests a subscriber on a real EventBridge (moto, testenv.AWS): a bus,
// a rule on the registry's source, and an SQS queue as its target, read back as a subscriber
// reads it.
package eventpubtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/events"
)

// Subscriber is a queue receiving every registry event published on one bus.
type Subscriber struct {
	sqs      *sqs.Client
	queueURL string
}

// Subscribe creates bus and a subscriber to it.
func Subscribe(t testing.TB, cfg aws.Config, bus string) *Subscriber {
	t.Helper()
	ctx := t.Context()
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(bus + "-subscriber")})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue ARN: %v", err)
	}
	pattern, _ := json.Marshal(map[string]any{"source": []string{events.Source}})
	rule := bus + "-all"
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(rule), EventBusName: aws.String(bus), EventPattern: aws.String(string(pattern)),
	}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}},
	}); err != nil {
		t.Fatalf("put targets: %v", err)
	}
	return &Subscriber{sqs: q, queueURL: aws.ToString(queue.QueueUrl)}
}

// Received is one event as the subscriber's queue got it.
type Received struct {
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Detail     json.RawMessage `json:"detail"`
	Body       string          `json:"-"` // the whole message: the event, envelope and detail
}

// Receive waits up to timeout for n events and returns what arrived (fewer on timeout).
func (s *Subscriber) Receive(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	var out []Received
	deadline := time.Now().Add(timeout)
	for len(out) < n && time.Now().Before(deadline) {
		res, err := s.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		for _, m := range res.Messages {
			r := Received{Body: aws.ToString(m.Body)}
			if err := json.Unmarshal([]byte(r.Body), &r); err != nil {
				t.Fatalf("message body is not an event: %v", err)
			}
			out = append(out, r)
			if _, err := s.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{
				QueueUrl: aws.String(s.queueURL), ReceiptHandle: m.ReceiptHandle,
			}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		}
	}
	return out
}
