package webhook_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/events"
)

// TestWithSQS checks the deliverer's SQS calls against a real SQS API (moto): a failed delivery
// is hidden for the backoff, a permanent one lands in the dead-letter queue with its reason.
func TestWithSQS(t *testing.T) {
	q := sqs.NewFromConfig(testenv.AWS(t))
	ctx := t.Context()
	queueURL, queueARN := createQueue(t, q, "webhook")
	dlqURL, _ := createQueue(t, q, "webhook-dlq")

	receive := func(url string) *sqstypes.Message {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), WaitTimeSeconds: 1, VisibilityTimeout: 1,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return nil
		}
		return &out.Messages[0]
	}
	record := func(m *sqstypes.Message) lambdaevents.SQSMessage {
		return lambdaevents.SQSMessage{
			MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			EventSourceARN: queueARN, Attributes: map[string]string{"ApproximateReceiveCount": m.Attributes["ApproximateReceiveCount"]},
		}
	}
	body := string(events.Example(events.ModelRegistered))
	if _, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}

	// The receiver is down: the message is reported and hidden for a minute, well past the 1 s
	// visibility it was received with.
	recv := newReceiver(t, http.StatusServiceUnavailable, http.StatusUnprocessableEntity)
	d, logs := deliverer(recv.srv.URL, q, dlqURL)
	m := receive(queueURL)
	if m == nil {
		t.Fatal("no message")
	}
	resp, _ := d.Handle(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{record(m)}})
	if len(resp.BatchItemFailures) != 1 || strings.Contains(logs.String(), "back off with the visibility timeout") {
		t.Fatalf("failures %v; logs %s", resp.BatchItemFailures, logs)
	}
	time.Sleep(1500 * time.Millisecond)
	if again := receive(queueURL); again != nil {
		t.Fatalf("message visible again after 1.5 s: the backoff did not apply")
	}

	// Next receive (visibility reset for the test): the receiver refuses it for good.
	if _, err := q.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
	}); err != nil {
		t.Fatal(err)
	}
	m = receive(queueURL)
	if m == nil {
		t.Fatal("message gone")
	}
	resp, _ = d.Handle(ctx, lambdaevents.SQSEvent{Records: []lambdaevents.SQSMessage{record(m)}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("permanent failure reported for retry: %v", resp.BatchItemFailures)
	}
	dead := receive(dlqURL)
	if dead == nil || aws.ToString(dead.Body) != body ||
		!strings.Contains(aws.ToString(dead.MessageAttributes["failure_reason"].StringValue), "422") {
		t.Fatalf("dead letter %+v", dead)
	}
}

func createQueue(t *testing.T, q *sqs.Client, name string) (url, arn string) {
	t.Helper()
	out, err := q.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl), attrs.Attributes["QueueArn"]
}
