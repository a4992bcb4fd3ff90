package ship

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
)

// Config is the audit function's configuration.
type Config struct {
	config.Common
	// LogGroup is the audit log group the records are written to.
	LogGroup string `env:"AUDIT_LOG_GROUP,required"`
}

// PutLogEvents' limits (CloudWatch Logs API reference): at most MaxBatchEvents events and
// MaxBatchBytes per call, each event counted as its UTF-8 message plus EventOverhead bytes; an
// event of at most MaxEventBytes; the events of a call in chronological order and within
// MaxBatchSpan of each other.
const (
	MaxBatchEvents = 10000
	MaxBatchBytes  = 1048576
	EventOverhead  = 26
	MaxEventBytes  = 256 * 1024
	MaxBatchSpan   = 24 * time.Hour
)

// LogsAPI is the part of CloudWatch Logs the shipper uses; *cloudwatchlogs.Client satisfies it.
type LogsAPI interface {
	PutLogEvents(ctx context.Context, in *cloudwatchlogs.PutLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error)
	CreateLogStream(ctx context.Context, in *cloudwatchlogs.CreateLogStreamInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error)
}

// Shipper copies the audit lines of subscription events into the audit log group.
type Shipper struct {
	logs  LogsAPI
	group string
	log   *slog.Logger
}

// New returns a Shipper writing to group.
func New(logs LogsAPI, group string, log *slog.Logger) *Shipper {
	return &Shipper{logs: logs, group: group, log: log}
}

// Handle is the Lambda handler. An error makes Lambda retry the (asynchronous) invocation, so a
// failed PutLogEvents is retried; a payload that cannot be decoded never will be, and is logged
// and dropped.
func (s *Shipper) Handle(ctx context.Context, ev events.CloudwatchLogsEvent) error {
	p, err := Decode(ev.AWSLogs.Data)
	if err != nil {
		s.log.Error("audit: undecodable subscription event dropped", "cause", err)
		return nil
	}
	if p.MessageType != DataMessage {
		return nil
	}
	var keep []types.InputLogEvent
	dropped := 0
	for _, e := range p.LogEvents {
		// The filter selects audit lines; this makes sure, and redacts once more, so nothing but
		// an audit record reaches the audit group whatever the filter says.
		msg := logging.Redacted(strings.TrimRight(e.Message, "\n"))
		if !audit.Is([]byte(msg)) || len(msg) > MaxEventBytes-EventOverhead {
			dropped++
			continue
		}
		keep = append(keep, types.InputLogEvent{Timestamp: aws.Int64(e.Timestamp), Message: aws.String(msg)})
	}
	if dropped > 0 {
		s.log.Warn("audit: log events that are no audit record dropped", "count", dropped, "log_group", p.LogGroup)
	}
	stream := StreamName(p.LogGroup, p.LogStream)
	for _, batch := range Batches(keep) {
		if err := s.put(ctx, stream, batch); err != nil {
			return err
		}
	}
	return nil
}

// put writes one batch, creating the stream the first time it is missing.
func (s *Shipper) put(ctx context.Context, stream string, batch []types.InputLogEvent) error {
	in := &cloudwatchlogs.PutLogEventsInput{LogGroupName: &s.group, LogStreamName: &stream, LogEvents: batch}
	_, err := s.logs.PutLogEvents(ctx, in)
	var missing *types.ResourceNotFoundException
	if errors.As(err, &missing) {
		_, cerr := s.logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &s.group, LogStreamName: &stream})
		var exists *types.ResourceAlreadyExistsException
		if cerr != nil && !errors.As(cerr, &exists) {
			return fmt.Errorf("audit: create log stream %s: %w", stream, cerr)
		}
		_, err = s.logs.PutLogEvents(ctx, in)
	}
	if err != nil {
		return fmt.Errorf("audit: PutLogEvents of %d events to %s: %w", len(batch), stream, err)
	}
	return nil
}

// StreamName is the audit group's stream for a source log stream: the source group's last name
// and its stream, so records stay apart by function and container. Log stream names may hold
// neither ':' nor '*' and at most 512 characters.
func StreamName(group, stream string) string {
	name := group[strings.LastIndexByte(group, '/')+1:] + "/" + stream
	name = strings.NewReplacer(":", "_", "*", "_").Replace(name)
	if len(name) > 512 {
		name = strings.ToValidUTF8(name[:512], "")
	}
	return name
}

// Batches orders events by time (stably) and splits them into PutLogEvents calls within its
// limits. Every event must be at most MaxEventBytes-EventOverhead long.
func Batches(evs []types.InputLogEvent) [][]types.InputLogEvent {
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b types.InputLogEvent) int { return cmp.Compare(*a.Timestamp, *b.Timestamp) })
	var out [][]types.InputLogEvent
	var cur []types.InputLogEvent
	size := 0
	for _, e := range evs {
		n := len(*e.Message) + EventOverhead
		if len(cur) > 0 && (len(cur) == MaxBatchEvents || size+n > MaxBatchBytes ||
			time.Duration(*e.Timestamp-*cur[0].Timestamp)*time.Millisecond > MaxBatchSpan) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, e)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
