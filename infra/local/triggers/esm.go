package triggers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// pollESM runs an SQS event source mapping: it polls the queue, invokes the function
// synchronously with each batch and deletes what the function handled. Messages it did not
// handle stay and come back after their visibility timeout; moto moves them to the queue's
// dead-letter queue once they have been received maxReceiveCount times, as SQS does.
func (r *Runner) pollESM(esm *template.EventSourceMapping, url, arn string) {
	ctx := r.ctx
	log := r.log.With("event_source_mapping", esm.LogicalID, "function", esm.Function)
	batchSize := esm.BatchSize
	if batchSize <= 0 {
		batchSize = 10 // Lambda's default for SQS
	}
	for {
		msgs := r.collectBatch(ctx, log, url, batchSize, esm.MaxBatchingWindow)
		if ctx.Err() != nil {
			return
		}
		r.handleBatch(ctx, log, esm, url, arn, msgs)
	}
}

// collectBatch receives until it has batchSize messages or, once it has some, until
// MaxBatchingWindow has passed since the first. Without a window, one non-empty receive is
// a batch. It returns nil only when ctx ends.
func (r *Runner) collectBatch(ctx context.Context, log *slog.Logger, url string, batchSize int, window time.Duration) []sqstypes.Message {
	var (
		msgs     []sqstypes.Message
		deadline time.Time
	)
	for {
		out, err := r.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MaxNumberOfMessages:         int32(min(batchSize-len(msgs), 10)),
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if ctx.Err() != nil {
			return nil
		}
		got := 0
		if err != nil {
			log.Error("receive from event source queue", "error", err)
		} else {
			got = len(out.Messages)
			msgs = append(msgs, out.Messages...)
		}
		if len(msgs) >= batchSize || (len(msgs) > 0 && window <= 0) {
			return msgs
		}
		if len(msgs) > 0 && deadline.IsZero() {
			deadline = time.Now().Add(window)
		}
		if len(msgs) > 0 && !time.Now().Before(deadline) {
			return msgs
		}
		if got > 0 {
			continue // more may be waiting
		}
		wait := r.opts.PollInterval
		if len(msgs) > 0 {
			wait = min(wait, time.Until(deadline))
		}
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

func (r *Runner) handleBatch(ctx context.Context, log *slog.Logger, esm *template.EventSourceMapping, url, arn string, msgs []sqstypes.Message) {
	records := make([]events.SQSMessage, len(msgs))
	for i, m := range msgs {
		records[i] = sqsRecord(m, arn)
	}
	payload, err := json.Marshal(events.SQSEvent{Records: records})
	if err != nil {
		log.Error("encode SQS event", "error", err)
		return
	}
	res, err := r.invoke(ctx, esm.Function, payload)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		log.Error("invoke with SQS batch; its messages return after their visibility timeout", "messages", len(msgs), "error", err)
		return
	}
	if fe := res.FunctionError; fe != nil {
		log.Warn("function failed on SQS batch; its messages return after their visibility timeout", "messages", len(msgs), "error_type", fe.Type, "error", fe.Message)
		return
	}
	var failed map[string]bool
	if esm.ReportBatchItemFailures {
		if failed, err = batchItemFailures(res.Payload, records); err != nil {
			log.Warn("invalid batch item failures response; the whole batch failed", "messages", len(msgs), "error", err)
			return
		}
	}
	var done []sqstypes.Message
	for _, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			done = append(done, m)
		}
	}
	if len(failed) > 0 {
		log.Info("function reported batch item failures; they return after their visibility timeout", "failed", len(failed), "messages", len(msgs))
	}
	r.deleteMessages(ctx, log, url, done)
}

// sqsRecord is m as Lambda presents it in an SQS event.
func sqsRecord(m sqstypes.Message, arn string) events.SQSMessage {
	rec := events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             m.Attributes,
		MessageAttributes:      make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes)),
		EventSourceARN:         arn,
		EventSource:            "aws:sqs",
		AWSRegion:              template.Region,
	}
	if rec.Attributes == nil {
		rec.Attributes = map[string]string{}
	}
	for k, v := range m.MessageAttributes {
		// Lambda sends the list fields as [] rather than null.
		rec.MessageAttributes[k] = events.SQSMessageAttribute{
			DataType:         aws.ToString(v.DataType),
			StringValue:      v.StringValue,
			BinaryValue:      v.BinaryValue,
			StringListValues: append([]string{}, v.StringListValues...),
			BinaryListValues: append([][]byte{}, v.BinaryListValues...),
		}
	}
	return rec
}

// batchItemFailures reads a ReportBatchItemFailures response into the set of failed message
// ids. Like Lambda, it takes an empty response or list as complete success, and anything it
// cannot match to the batch as complete failure (an error).
func batchItemFailures(payload []byte, records []events.SQSMessage) (map[string]bool, error) {
	if p := bytes.TrimSpace(payload); len(p) == 0 || string(p) == "null" {
		return nil, nil
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, fmt.Errorf("response %.200q: %w", payload, err)
	}
	inBatch := make(map[string]bool, len(records))
	for _, rec := range records {
		inBatch[rec.MessageId] = true
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		switch {
		case f.ItemIdentifier == nil || *f.ItemIdentifier == "":
			return nil, errors.New("a batch item failure has no itemIdentifier")
		case !inBatch[*f.ItemIdentifier]:
			return nil, fmt.Errorf("itemIdentifier %q is not a message of the batch", *f.ItemIdentifier)
		}
		failed[*f.ItemIdentifier] = true
	}
	return failed, nil
}
