package triggers

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hokusai-protocol/registry-gateway/infra/local/lambdart"
	"github.com/hokusai-protocol/registry-gateway/infra/local/logfilter"
	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit/ship"
)

// Subscription delivery, as CloudWatch Logs does it for a Lambda destination: the events of a
// log group that a subscription filter's pattern matches are gathered per log stream, and each
// batch is one asynchronous invocation of the destination with {"awslogs":{"data": base64 of
// the gzip of the JSON payload}}. The function that wrote the lines never waits for any of it.
const (
	// defaultLogBatchWindow is how long the events of a stream gather before they are delivered.
	defaultLogBatchWindow = time.Second
	// maxLogBatchBytes and maxLogBatchEvents cut a batch early: the payload stays far under
	// Lambda's limit for an asynchronous event (256 KB) once compressed.
	maxLogBatchBytes  = 256 * 1024
	maxLogBatchEvents = 1000
)

// logSubscriptions holds the parsed filters by log group and the pending batches.
type logSubscriptions struct {
	byGroup map[string][]*subscription
	err     error // a filter the harness cannot apply; Start reports it

	mu      sync.Mutex
	pending map[batchKey]*logBatch
	seq     uint64
}

type subscription struct {
	filter  *template.SubscriptionFilter
	pattern *logfilter.Pattern
}

type batchKey struct {
	filter string // logical id
	stream string
}

type logBatch struct {
	events []ship.LogEvent
	bytes  int
}

func newLogSubscriptions(m *template.Model) *logSubscriptions {
	s := &logSubscriptions{byGroup: map[string][]*subscription{}, pending: map[batchKey]*logBatch{}}
	for _, f := range m.SubscriptionFilters {
		p, err := logfilter.Parse(f.FilterPattern)
		if err != nil {
			s.err = fmt.Errorf("triggers: subscription filter %s: %w", f.LogicalID, err)
			return s
		}
		s.byGroup[f.LogGroup] = append(s.byGroup[f.LogGroup], &subscription{filter: f, pattern: p})
	}
	return s
}

// LogSink is what function fn's output goes to, for the subscription filters on its log group;
// nil when there are none. The runner need not be started: a batch is delivered when it is due.
func (r *Runner) LogSink(fn *template.Function) lambdart.LogSink {
	subs := r.logs.byGroup[fn.LogGroup]
	if len(subs) == 0 {
		return nil
	}
	return func(stream string, at time.Time, line string) {
		for _, sub := range subs {
			if sub.pattern.Match(line) {
				r.addLogEvent(sub.filter, stream, at, line)
			}
		}
	}
}

func (r *Runner) addLogEvent(f *template.SubscriptionFilter, stream string, at time.Time, line string) {
	s := r.logs
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	key := batchKey{filter: f.LogicalID, stream: stream}
	b := s.pending[key]
	if b == nil {
		b = &logBatch{}
		s.pending[key] = b
		window := r.opts.LogBatchWindow
		if window <= 0 {
			window = defaultLogBatchWindow
		}
		time.AfterFunc(window, func() { r.flushLogs(f, stream, b) })
	}
	// CloudWatch Logs event ids are decimal strings unique within the group.
	id := strconv.FormatInt(at.UnixNano(), 10) + strconv.FormatUint(s.seq, 10)
	b.events = append(b.events, ship.LogEvent{ID: id, Timestamp: at.UnixMilli(), Message: line})
	b.bytes += len(line)
	if b.bytes >= maxLogBatchBytes || len(b.events) >= maxLogBatchEvents {
		delete(s.pending, key)
		go r.deliverLogs(f, stream, b)
	}
}

// flushLogs delivers b when its window ends, unless it was already delivered for being full.
func (r *Runner) flushLogs(f *template.SubscriptionFilter, stream string, b *logBatch) {
	s := r.logs
	key := batchKey{filter: f.LogicalID, stream: stream}
	s.mu.Lock()
	if s.pending[key] != b {
		s.mu.Unlock()
		return
	}
	delete(s.pending, key)
	s.mu.Unlock()
	r.deliverLogs(f, stream, b)
}

func (r *Runner) deliverLogs(f *template.SubscriptionFilter, stream string, b *logBatch) {
	log := r.log.With("subscription_filter", f.LogicalID, "function", f.Function)
	data, err := ship.Encode(ship.Payload{
		MessageType:         ship.DataMessage,
		Owner:               template.AccountID,
		LogGroup:            f.LogGroup,
		LogStream:           stream,
		SubscriptionFilters: []string{f.Name},
		LogEvents:           b.events,
	})
	if err == nil {
		var payload []byte
		payload, err = json.Marshal(map[string]any{"awslogs": map[string]string{"data": data}})
		if err == nil {
			if !r.invokeAsync(f.Function, payload, deadLetter{}) {
				log.Warn("log events dropped: the runner is stopped", "events", len(b.events))
			}
			return
		}
	}
	log.Error("log events dropped: cannot encode the subscription payload", "events", len(b.events), "error", err)
}
