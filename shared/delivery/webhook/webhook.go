// Package webhook delivers registry events to the configured webhook (SPEC section 7): the
// function is the target of an SQS queue that a rule on the bus fills, and POSTs each event, in
// the seed's body, signed with HMAC-SHA256.
//
// Retry policy. Each SQS receive is one POST. A delivery that fails is reported back as a batch
// item failure, so SQS hands it out again; before that, its visibility timeout is set to
// RetryBase·2^(receives-1), capped at RetryMax (60 s, 2 min, 4 min, … by default), so a receiver
// that is down is not hammered. After the queue's maximum receives its redrive policy moves the
// message to the dead-letter queue, which is alarmed; redriving from there delivers it again with
// the same idempotency key.
//
// Failures are transient or permanent. Transient: a transport error, a timeout, a 5xx, 408 (request
// timeout), 425 (too early) and 429 (too many requests): the receiver may accept the same request
// later. Permanent: a message that is not a valid registry event, any other 4xx (400, 401, 403,
// 404, 410, 413, 422, …), and a 3xx (redirects are not followed: a moved webhook is a
// configuration change, and a POST must not turn into a GET): sending the same signed bytes again
// cannot change the answer. A permanent failure goes straight to the dead-letter queue when
// WEBHOOK_DLQ_URL is set, so it neither costs the receiver more requests nor waits out the
// retries; without it, it is retried like a transient one and reaches the dead-letter queue by
// the redrive policy. Either way nothing is dropped silently: the DLQ alarm fires, and the log
// says why.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/backoff"
)

// Request headers.
const (
	HeaderSignature   = "X-Hokusai-Signature"
	HeaderIdempotency = "X-Hokusai-Idempotency-Key"
	userAgent         = "hokusai-registry-webhook/1.0"
)

// deadlineMargin is kept between a delivery's timeout and the invocation's deadline, so the
// function answers (and reports its failures) before Lambda stops it: a timed-out invocation
// would hand the whole batch out again, delivered items included.
const deadlineMargin = time.Second

// QueueAPI is the part of the SQS client the deliverer uses; *sqs.Client satisfies it.
type QueueAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Deliverer posts events to one webhook.
type Deliverer struct {
	URL         string
	Secret      []byte
	Client      *http.Client
	Timeout     time.Duration
	DetailTypes []string
	Log         *slog.Logger
	// Queue backs off failed messages and dead-letters permanent ones; nil leaves both to the
	// queue's own visibility timeout and redrive policy.
	Queue               QueueAPI
	DeadLetterURL       string
	RetryBase, RetryMax time.Duration

	queueURLs sync.Map // event source ARN → queue URL
}

// New returns a Deliverer for cfg, signing with secret. queue may be nil.
func New(cfg Config, secret []byte, queue QueueAPI, log *slog.Logger) *Deliverer {
	return &Deliverer{
		URL: cfg.URL.String(), Secret: secret, Client: NewClient(), Timeout: cfg.Timeout,
		DetailTypes: cfg.DetailTypes, Log: log, Queue: queue, DeadLetterURL: cfg.DeadLetterURL,
		RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax,
	}
}

// NewClient is the HTTP client deliveries use: connections kept across invocations, redirects
// not followed (see the package comment).
func NewClient() *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// outcome is what became of one message.
type outcome int

const (
	delivered outcome = iota
	skipped           // a detail type this webhook does not take
	transient
	permanent
)

// Handle is the SQS-triggered Lambda handler (the event source mapping must set
// ReportBatchItemFailures). Messages are delivered concurrently; the answer lists the ones SQS
// must hand out again.
func (d *Deliverer) Handle(ctx context.Context, ev lambdaevents.SQSEvent) (lambdaevents.SQSEventResponse, error) {
	outcomes := make([]outcome, len(ev.Records))
	var wg sync.WaitGroup
	for i, rec := range ev.Records {
		wg.Go(func() { outcomes[i] = d.handle(ctx, rec) })
	}
	wg.Wait()
	var resp lambdaevents.SQSEventResponse
	for i, rec := range ev.Records {
		if outcomes[i] == transient {
			resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// handle delivers one message and settles its failure: backed off when it may yet succeed,
// dead-lettered when it cannot. It returns transient for a message SQS must hand out again.
func (d *Deliverer) handle(ctx context.Context, rec lambdaevents.SQSMessage) outcome {
	log := d.Log.With("message_id", rec.MessageId, "receive_count", rec.Attributes["ApproximateReceiveCount"])
	o, reason := d.deliver(ctx, rec, log)
	switch o {
	case delivered, skipped:
		return o
	case permanent:
		log.Error("webhook delivery failed permanently", "reason", reason)
		if d.Queue == nil || d.DeadLetterURL == "" {
			break // the redrive policy will take it to the dead-letter queue
		}
		if err := d.deadLetter(ctx, rec, reason); err != nil {
			log.Error("send to the dead-letter queue; left to the redrive policy", "error", err)
			break
		}
		return permanent
	default:
		log.Warn("webhook delivery failed; will retry", "reason", reason)
	}
	d.backOff(ctx, rec, log)
	return transient
}

// deliver decodes and posts one message.
func (d *Deliverer) deliver(ctx context.Context, rec lambdaevents.SQSMessage, log *slog.Logger) (outcome, string) {
	dl, err := Decode([]byte(rec.Body))
	if err != nil {
		return permanent, err.Error()
	}
	log = log.With("event_id", dl.EventID, "detail_type", dl.DetailType)
	if !slices.Contains(d.DetailTypes, dl.DetailType) {
		log.Info("detail type not delivered to the webhook; dropped")
		return skipped, ""
	}
	start := time.Now()
	status, err := d.post(ctx, dl)
	log = log.With("status", status, "duration_ms", time.Since(start).Milliseconds())
	switch {
	case err != nil:
		return transient, err.Error()
	case status >= 200 && status < 300:
		log.Info("webhook delivered")
		return delivered, ""
	case PermanentStatus(status):
		return permanent, fmt.Sprintf("the receiver answered %d", status)
	default:
		return transient, fmt.Sprintf("the receiver answered %d", status)
	}
}

// PermanentStatus reports whether a receiver's non-2xx status means the same request can never
// succeed (see the package comment): 3xx, and 4xx other than 408, 425 and 429.
func PermanentStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return status >= 300 && status < 500
}

// post sends the signed request and returns the receiver's status.
func (d *Deliverer) post(ctx context.Context, dl Delivery) (int, error) {
	timeout := d.Timeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline)-deadlineMargin)
	}
	if timeout <= 0 {
		return 0, errors.New("no time left in the invocation")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(dl.Body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderIdempotency, dl.EventID)
	req.Header.Set(HeaderSignature, Sign(d.Secret, dl.Body))
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST: %w", redactURL(err))
	}
	defer resp.Body.Close()
	// Drained (within reason) so the connection is reused; the body itself is not logged.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// redactURL drops the URL from a transport error: a webhook URL may carry a token in its query.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// backOff makes a failed message invisible for RetryBase·2^(receives-1), capped at RetryMax. If
// that fails the queue's own visibility timeout applies, so it is logged, not fatal.
func (d *Deliverer) backOff(ctx context.Context, rec lambdaevents.SQSMessage, log *slog.Logger) {
	if d.Queue == nil || d.RetryBase <= 0 {
		return
	}
	receives, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	wait := backoff.Exponential{Base: d.RetryBase, Max: d.RetryMax}.Delay(receives - 1)
	queue, err := d.queueURL(ctx, rec.EventSourceARN)
	if err == nil {
		_, err = d.Queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(queue), ReceiptHandle: aws.String(rec.ReceiptHandle),
			VisibilityTimeout: int32(min(wait, maxVisibility) / time.Second),
		})
	}
	if err != nil {
		log.Warn("back off with the visibility timeout", "error", err)
		return
	}
	log.Info("retry scheduled", "retry_in", wait.String())
}

// deadLetter sends a message that can never be delivered to the dead-letter queue, with the reason.
func (d *Deliverer) deadLetter(ctx context.Context, rec lambdaevents.SQSMessage, reason string) error {
	_, err := d.Queue.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(d.DeadLetterURL), MessageBody: aws.String(rec.Body),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"failure_reason":      {DataType: aws.String("String"), StringValue: aws.String(truncate(reason, 1024))},
			"original_message_id": {DataType: aws.String("String"), StringValue: aws.String(rec.MessageId)},
		},
	})
	return err
}

// queueURL resolves the queue a message came from (its ARN is in the record; the API wants the
// URL), once per queue.
func (d *Deliverer) queueURL(ctx context.Context, arn string) (string, error) {
	if u, ok := d.queueURLs.Load(arn); ok {
		return u.(string), nil
	}
	// arn:<partition>:sqs:<region>:<account>:<name>
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		return "", fmt.Errorf("event source %q is not an SQS queue ARN", arn)
	}
	out, err := d.Queue.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		return "", fmt.Errorf("queue URL of %s: %w", arn, err)
	}
	d.queueURLs.Store(arn, aws.ToString(out.QueueUrl))
	return aws.ToString(out.QueueUrl), nil
}
