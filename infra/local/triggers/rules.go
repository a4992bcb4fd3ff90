package triggers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/infra/local/provision"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

var errStopped = errors.New("triggers: runner stopped")

// pollRuleTarget drains a harness queue standing in for a rule's Lambda target. A message is
// deleted as soon as its invocation is handed over, as EventBridge is done with an event once
// Lambda has accepted the asynchronous invocation.
func (r *Runner) pollRuleTarget(q provision.RuleTargetQueue) {
	ctx := r.ctx
	log := r.log.With("rule", q.Rule, "target", q.TargetID, "function", q.Function)
	dl := r.dlqOf(q.Rule, q.Target)
	for {
		out, err := r.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.QueueURL), MaxNumberOfMessages: 10})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Error("receive from rule target queue", "error", err)
		}
		if err != nil || len(out.Messages) == 0 {
			if !sleep(ctx, r.opts.PollInterval) {
				return
			}
			continue
		}
		var taken []sqstypes.Message
		for _, msg := range out.Messages {
			if !r.invokeAsync(q.Function, rulePayload(q.Target, aws.ToString(msg.Body)), dl) {
				break // stopping: the rest stay queued for the next run
			}
			taken = append(taken, msg)
		}
		// Interrupted by Stop, the deletion fails and the events come again on the next run, which
		// beats losing them: their invocations were cancelled too.
		r.deleteMessages(ctx, log, q.QueueURL, taken)
	}
}

// rulePayload is what a target receives for an event: its constant Input if it has one (moto
// ignores Input), else the event. moto leaves "account" out of the events it writes to SQS, so
// it is put back.
func rulePayload(t *template.Target, body string) []byte {
	if len(t.Input) > 0 {
		return t.Input
	}
	var ev map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return []byte(body)
	}
	if _, ok := ev["account"]; ok {
		return []byte(body)
	}
	ev["account"] = json.RawMessage(strconv.Quote(template.AccountID))
	b, err := json.Marshal(ev)
	if err != nil {
		return []byte(body)
	}
	return b
}

// deleteMessages deletes msgs in batches of SQS's maximum of 10. A message that cannot be
// deleted reappears after its visibility timeout and is delivered again, as on AWS.
func (r *Runner) deleteMessages(ctx context.Context, log *slog.Logger, url string, msgs []sqstypes.Message) {
	for chunk := range slices.Chunk(msgs, 10) {
		entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(chunk))
		for i, m := range chunk {
			entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := r.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.Error("delete messages", "queue", url, "error", err)
			continue
		}
		for _, f := range out.Failed {
			log.Error("delete message", "queue", url, "code", aws.ToString(f.Code), "error", aws.ToString(f.Message))
		}
	}
}

// runSchedule fires rule at the times sched gives, on a clock running 1/ScheduleScale times
// as fast as the real one from now on.
func (r *Runner) runSchedule(rule *template.Rule, sched Schedule) {
	ctx := r.ctx
	log := r.log.With("rule", rule.LogicalID, "schedule", rule.Schedule)
	origin, scale := time.Now(), r.opts.ScheduleScale
	clock := func() time.Time { return origin.Add(time.Duration(float64(time.Since(origin)) / scale)) }
	realAt := func(v time.Time) time.Time { return origin.Add(time.Duration(float64(v.Sub(origin)) * scale)) }
	next := sched.Next(clock())
	for !next.IsZero() {
		if !sleep(ctx, time.Until(realAt(next))) {
			return
		}
		if err := r.fire(ctx, rule, next); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error("fire schedule", "error", err)
		}
		// After a stall (a suspended laptop), skip the missed firings instead of bursting.
		if next = sched.Next(next); !next.IsZero() && next.Before(clock()) {
			next = sched.Next(clock())
		}
	}
	log.Info("schedule has no further firings")
}

// RunSchedule fires a schedule rule now, whether or not it is enabled or the runner started.
// Function targets are invoked asynchronously; the call returns once they are handed over and
// the SQS targets have their messages.
func (r *Runner) RunSchedule(ctx context.Context, ruleLogicalID string) error {
	i := slices.IndexFunc(r.m.Rules, func(rl *template.Rule) bool { return rl.LogicalID == ruleLogicalID })
	if i < 0 {
		return fmt.Errorf("triggers: no rule %s", ruleLogicalID)
	}
	rule := r.m.Rules[i]
	if rule.Schedule == "" {
		return fmt.Errorf("triggers: rule %s has no schedule", ruleLogicalID)
	}
	return r.fire(ctx, rule, time.Now())
}

// fire delivers one Scheduled Event (the same event id for every target, as EventBridge does).
func (r *Runner) fire(ctx context.Context, rule *template.Rule, at time.Time) error {
	event, err := r.scheduledEvent(rule, at)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range rule.Targets {
		payload := event
		if len(t.Input) > 0 {
			payload = t.Input
		}
		switch {
		case t.Function != "":
			if !r.invokeAsync(t.Function, payload, r.dlqOf(rule.LogicalID, t)) {
				errs = append(errs, errStopped)
			}
		case t.Queue != "":
			if err := r.sendToQueue(ctx, rule, t.Queue, payload); err != nil {
				errs = append(errs, fmt.Errorf("triggers: rule %s target %s: %w", rule.LogicalID, t.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (r *Runner) scheduledEvent(rule *template.Rule, at time.Time) ([]byte, error) {
	arn := r.res.RuleARNs[rule.LogicalID]
	if arn == "" {
		arn = fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", template.Region, template.AccountID, rule.Name)
	}
	b, err := json.Marshal(struct {
		Version    string          `json:"version"`
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Account    string          `json:"account"`
		Time       string          `json:"time"`
		Region     string          `json:"region"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}{"0", newUUID(), "Scheduled Event", "aws.events", template.AccountID, at.UTC().Format(time.RFC3339), template.Region, []string{arn}, json.RawMessage("{}")})
	if err != nil {
		return nil, fmt.Errorf("triggers: rule %s: scheduled event: %w", rule.LogicalID, err)
	}
	return b, nil
}

func (r *Runner) sendToQueue(ctx context.Context, rule *template.Rule, queue string, payload []byte) error {
	url, ok := r.res.QueueURLs[queue]
	if !ok {
		return fmt.Errorf("queue %s was not provisioned", queue)
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(payload))}
	// A FIFO queue needs a group; EventBridge takes it from SqsParameters, which the model does
	// not carry, so the rule stands in.
	if i := slices.IndexFunc(r.m.Queues, func(q *template.Queue) bool { return q.LogicalID == queue }); i >= 0 && r.m.Queues[i].FIFO {
		in.MessageGroupId = aws.String(rule.Name)
		in.MessageDeduplicationId = aws.String(newUUID())
	}
	if _, err := r.sqs.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send to queue %s: %w", queue, err)
	}
	return nil
}
