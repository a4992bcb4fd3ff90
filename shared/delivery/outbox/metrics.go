package outbox

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Metric names and namespace; the stack's alarms refer to them.
const (
	Namespace              = "Hokusai/Registry"
	MetricOldestPendingAge = "OldestPendingEventAgeSeconds"
	MetricPending          = "PendingRegistrations"
	MetricPublished        = "OutboxEventsPublished"
	MetricFailed           = "OutboxRegistrationsFailed"
	DimensionEnvironment   = "Environment"
)

// writeMetrics writes the run's metrics as one CloudWatch embedded-metric-format line: CloudWatch
// Logs turns it into metrics without a PutMetricData call (no permission, no latency, no cost
// per call). The age is written on every run, 0 when nothing is owed, so a missing datapoint
// means the outbox did not run.
func writeMetrics(w io.Writer, environment string, now time.Time, s Summary) error {
	type metric struct{ Name, Unit string }
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  Namespace,
				"Dimensions": [][]string{{DimensionEnvironment}},
				"Metrics": []metric{
					{MetricOldestPendingAge, "Seconds"}, {MetricPending, "Count"},
					{MetricPublished, "Count"}, {MetricFailed, "Count"},
				},
			}},
		},
		DimensionEnvironment:   environment,
		MetricOldestPendingAge: int64(s.OldestPending.Seconds()),
		MetricPending:          s.Remaining,
		MetricPublished:        s.Published,
		MetricFailed:           s.Failed,
	}
	b, err := json.Marshal(line)
	if err != nil {
		return fmt.Errorf("metrics line: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
