// Package triggers runs what moto does not: it hands events that rules route to Lambda targets
// to the functions, fires schedules, polls SQS for event source mappings, and delivers the log
// events that subscription filters select, with the retry semantics of the real services.
package triggers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/infra/local/lambdart"
	"github.com/hokusai-protocol/registry-gateway/infra/local/provision"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// Invoker runs a function by logical id, synchronously.
type Invoker interface {
	Invoke(ctx context.Context, function string, payload []byte) (*lambdart.Result, error)
}

// Pools is an Invoker over the harness's function pools, by logical id.
type Pools map[string]*lambdart.Pool

func (p Pools) Invoke(ctx context.Context, function string, payload []byte) (*lambdart.Result, error) {
	pool, ok := p[function]
	if !ok {
		return nil, fmt.Errorf("no pool for function %s", function)
	}
	return pool.Invoke(ctx, payload)
}

// Options tune a Runner. The zero value behaves like AWS.
type Options struct {
	Log *slog.Logger // default slog.Default()
	// PollInterval paces SQS polling while a queue is empty; default 200ms.
	PollInterval time.Duration
	// AsyncRetryDelays are the waits before each retry of a failed asynchronous invocation;
	// nil means {1m, 2m}, Lambda's two retries; an empty slice means no retries.
	AsyncRetryDelays []time.Duration
	// ScheduleScale multiplies the real time between schedule firings: 0.01 fires
	// rate(1 minute) every 600ms. 0 means 1. Cron schedules follow a clock that runs 1/scale
	// times as fast from Start, and their events carry that clock's time.
	ScheduleScale float64
	// LogBatchWindow is how long log events matched by a subscription filter gather, per log
	// stream, before they are delivered; default 1s.
	LogBatchWindow time.Duration
}

// Runner delivers rule events, schedules and SQS messages to functions.
type Runner struct {
	sqs  *sqs.Client
	m    *template.Model
	res  *provision.Resources
	inv  Invoker
	opts Options
	log  *slog.Logger
	logs *logSubscriptions

	// ctx ends on Stop; every goroutine, including asynchronous invocations started by
	// RunSchedule before Start, runs under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	stopped bool
	stats   map[string]int
}

// New returns a Runner for m's rules, schedules and event source mappings, with the queues
// Provision made in res. Nothing runs before Start.
func New(cfg aws.Config, m *template.Model, res *provision.Resources, inv Invoker, opts Options) *Runner {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.AsyncRetryDelays == nil {
		opts.AsyncRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	if opts.ScheduleScale <= 0 {
		opts.ScheduleScale = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{
		sqs:    sqs.NewFromConfig(cfg),
		m:      m,
		res:    res,
		inv:    inv,
		opts:   opts,
		log:    opts.Log.With("component", "triggers"),
		logs:   newLogSubscriptions(m),
		ctx:    ctx,
		cancel: cancel,
		stats:  map[string]int{},
	}
}

// Start checks that every queue to poll exists and that every enabled schedule parses, then
// starts a poller per rule target queue and event source mapping and a timer per schedule. ctx
// bounds these checks only; the goroutines run until Stop.
func (r *Runner) Start(ctx context.Context) error {
	if r.logs.err != nil {
		return r.logs.err
	}
	var starts []func()
	for _, key := range slices.Sorted(maps.Keys(r.res.RuleTargetQueues)) {
		q := r.res.RuleTargetQueues[key]
		if err := r.checkQueue(ctx, q.QueueURL); err != nil {
			return fmt.Errorf("triggers: rule %s target %s: %w", q.Rule, q.TargetID, err)
		}
		starts = append(starts, func() { r.pollRuleTarget(q) })
	}
	for _, rule := range r.m.Rules {
		if rule.Schedule == "" || !rule.Enabled {
			continue
		}
		sched, err := ParseSchedule(rule.Schedule)
		if err != nil {
			return fmt.Errorf("triggers: rule %s: %w", rule.LogicalID, err)
		}
		starts = append(starts, func() { r.runSchedule(rule, sched) })
	}
	for _, esm := range r.m.EventSourceMappings {
		if !esm.Enabled {
			continue
		}
		url, ok := r.res.QueueURLs[esm.Queue]
		if !ok {
			return fmt.Errorf("triggers: event source mapping %s: queue %s was not provisioned", esm.LogicalID, esm.Queue)
		}
		if err := r.checkQueue(ctx, url); err != nil {
			return fmt.Errorf("triggers: event source mapping %s: %w", esm.LogicalID, err)
		}
		starts = append(starts, func() { r.pollESM(esm, url, r.res.QueueARNs[esm.Queue]) })
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.stopped {
		return errors.New("triggers: runner already started or stopped")
	}
	r.started = true
	for _, f := range starts {
		r.wg.Go(f)
	}
	return nil
}

func (r *Runner) checkQueue(ctx context.Context, url string) error {
	_, err := r.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return fmt.Errorf("queue %s: %w", url, err)
	}
	return nil
}

// Stop ends every poller, timer and pending asynchronous invocation and waits for them. An
// event whose asynchronous invocation is still pending is dropped, as it would be by a Lambda
// service that went away. Stop is idempotent.
func (r *Runner) Stop() {
	r.mu.Lock()
	r.stopped = true
	r.cancel()
	r.mu.Unlock()
	r.wg.Wait()
}

// goAsync runs f in a goroutine Stop waits for, unless the runner is stopped. Adding to the
// WaitGroup under mu, only while not stopped, keeps every Add before Stop's Wait.
func (r *Runner) goAsync(f func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return false
	}
	r.wg.Go(f)
	return true
}

// Stats returns the number of invocations so far, retries included, by function logical id.
func (r *Runner) Stats() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.stats)
}

func (r *Runner) invoke(ctx context.Context, function string, payload []byte) (*lambdart.Result, error) {
	r.mu.Lock()
	r.stats[function]++
	r.mu.Unlock()
	res, err := r.inv.Invoke(ctx, function, payload)
	if err == nil && res == nil {
		return nil, fmt.Errorf("invoke %s: no result and no error", function)
	}
	return res, err
}

// deadLetter is where an asynchronous invocation's event goes once retries are exhausted.
type deadLetter struct {
	queueURL string // empty: log and drop
	ruleARN  string
}

// invokeAsync hands payload to function the way Lambda's asynchronous invocation (as used by
// EventBridge) does: the caller does not wait; a function error is retried after each of
// AsyncRetryDelays; then the event goes to the dead-letter queue. EventBridge itself retries
// only when Lambda refuses the event (throttling, unavailability); the local pools queue
// instead of throttling, so that never happens here. It reports false when the runner is
// stopped and the event was not taken.
func (r *Runner) invokeAsync(function string, payload []byte, dl deadLetter) bool {
	return r.goAsync(func() {
		ctx := r.ctx
		log := r.log.With("function", function)
		for attempt := 0; ; attempt++ {
			res, err := r.invoke(ctx, function, payload)
			if err == nil && res.FunctionError == nil {
				return
			}
			if ctx.Err() != nil || errors.Is(err, lambdart.ErrClosed) {
				log.Warn("asynchronous invocation dropped at shutdown", "attempt", attempt+1)
				return
			}
			code, msg := "Lambda.ServiceException", ""
			refused, isRefusal := errors.AsType[*lambdart.InvokeError](err)
			switch {
			case err == nil:
				code, msg = res.FunctionError.Type, res.FunctionError.Message
			case isRefusal:
				// Lambda refuses such a request outright (e.g. too large): nothing to retry.
				r.deadLetter(ctx, log, payload, dl, refused.Type, refused.Message)
				return
			default:
				msg = err.Error()
			}
			if attempt == len(r.opts.AsyncRetryDelays) {
				r.deadLetter(ctx, log, payload, dl, code, msg)
				return
			}
			delay := r.opts.AsyncRetryDelays[attempt]
			log.Info("asynchronous invocation failed; retrying", "attempt", attempt+1, "error_type", code, "error", msg, "retry_in", delay)
			if !sleep(ctx, delay) {
				log.Warn("asynchronous invocation dropped at shutdown", "attempt", attempt+1)
				return
			}
		}
	})
}

// deadLetter sends a failed event to the queue with the message attributes EventBridge puts on
// dead-lettered events.
func (r *Runner) deadLetter(ctx context.Context, log *slog.Logger, payload []byte, dl deadLetter, code, msg string) {
	if dl.queueURL == "" {
		log.Error("asynchronous invocation failed; event dropped (no dead-letter queue)", "error_type", code, "error", msg, "event", string(payload))
		return
	}
	attrs := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range map[string]string{"ERROR_CODE": code, "ERROR_MESSAGE": msg, "RULE_ARN": dl.ruleARN} {
		if v != "" {
			attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	_, err := r.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(dl.queueURL), MessageBody: aws.String(string(payload)), MessageAttributes: attrs})
	if err != nil {
		log.Error("asynchronous invocation failed; sending to dead-letter queue failed too", "error_type", code, "error", msg, "queue", dl.queueURL, "send_error", err)
		return
	}
	log.Warn("asynchronous invocation failed; event sent to dead-letter queue", "error_type", code, "error", msg, "queue", dl.queueURL)
}

// dlqOf is the dead-letter destination of a rule's target.
func (r *Runner) dlqOf(rule string, t *template.Target) deadLetter {
	dl := deadLetter{ruleARN: r.res.RuleARNs[rule]}
	if t.DeadLetterQueue != "" {
		dl.queueURL = r.res.QueueURLs[t.DeadLetterQueue]
	}
	return dl
}

// sleep waits for d or until ctx ends, reporting whether the wait was complete.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// newUUID returns a random (version 4) UUID, the form EventBridge event ids take.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
