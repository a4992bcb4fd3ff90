package eventpub_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// readmePatterns are the README's event patterns (its "Subscribing to events" section) and the
// events each must deliver, by name: a detail type's example, or a variant below. Every pattern
// of the README is here and every one here is in the README, so a pattern cannot be documented
// without being run.
var readmePatterns = map[string][]string{
	`{"source":["hokusai.registry"],"detail-type":["model_ready_to_deploy"]}`:                               {events.ModelReadyToDeploy},
	`{"source":["hokusai.registry"],"detail-type":["model_registered"],"detail":{"token_symbol":["XRAY"]}}`: {events.ModelRegistered},
	`{"source":["hokusai.registry"],"detail-type":["model_ready_to_deploy"],"detail":{"improvement_percentage":[{"numeric":[">",5]}]}}`: {
		events.ModelReadyToDeploy},
	// The deployer: champion of hokusai-XRAY moved or removed; not the challenger, not another model.
	`{"source":["hokusai.registry"],"detail-type":["model_version_alias.created","model_version_alias.deleted"],"detail":{"model_name":["hokusai-XRAY"],"alias":["champion"]}}`: {
		events.ModelVersionAliasCreated, "champion deleted"},
	// The auditor: every delete, of any entity.
	`{"source":["hokusai.registry"],"detail-type":[{"suffix":".deleted"}]}`: {
		events.RegisteredModelDeleted, events.RegisteredModelTagDeleted, events.ModelVersionAliasDeleted,
		events.ModelVersionDeleted, events.ModelVersionTagDeleted, "champion deleted"},
	`{"source":["hokusai.registry"],"detail-type":["model_version.created"],"detail":{"model_name":["hokusai-XRAY"]}}`: {
		events.ModelVersionCreated},
}

// variants are registry changes beside the examples that tell a right pattern from a loose one.
var variants = map[string]struct {
	detailType string
	change     func(*events.RegistryChange)
}{
	"champion deleted":              {events.ModelVersionAliasDeleted, func(c *events.RegistryChange) { c.Alias = "champion" }},
	"champion of another model":     {events.ModelVersionAliasCreated, func(c *events.RegistryChange) { c.ModelName = "hokusai-OTHER" }},
	"version of another model":      {events.ModelVersionCreated, func(c *events.RegistryChange) { c.ModelName = "hokusai-OTHER" }},
	"champion tag, not alias":       {events.ModelVersionTagSet, func(c *events.RegistryChange) { c.Tag = &events.RegistryTag{Key: "champion", Value: aws.String("1")} }},
	"registered_model.deleted-like": {events.RegisteredModelRenamed, func(c *events.RegistryChange) { c.NewModelName = "x.deleted" }},
}

// TestReadmePatterns runs each README pattern as a rule on moto's EventBridge (moto has no
// TestEventPattern) and checks that exactly its events reach the rule's queue, of every example
// and variant published.
func TestReadmePatterns(t *testing.T) {
	documented := readmeEventPatterns(t)
	for p := range readmePatterns {
		if !slices.Contains(documented, p) {
			t.Errorf("pattern no longer in the README: %s", p)
		}
	}
	for _, p := range documented {
		if _, ok := readmePatterns[p]; !ok {
			t.Errorf("README pattern that no test runs: %s", p)
		}
	}

	cfg := testenv.AWS(t)
	ctx := t.Context()
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	bus := "hokusai-readme-patterns"
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatal(err)
	}
	// The sentinel, published last, reaches every queue: once it is read, the queue holds all
	// the pattern matched.
	const sentinelSource = "test.sentinel"
	queues := map[string]string{}
	i := 0
	for p := range readmePatterns {
		i++
		name := fmt.Sprintf("%s-%d", bus, i)
		qu, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: qu.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
		})
		if err != nil {
			t.Fatal(err)
		}
		for rule, pattern := range map[string]string{name: p, name + "-sentinel": `{"source":["` + sentinelSource + `"]}`} {
			if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
				t.Fatalf("rule %s: %v", pattern, err)
			}
			if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus),
				Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
				t.Fatal(err)
			}
		}
		queues[p] = aws.ToString(qu.QueueUrl)
	}

	// Every example and variant, named by its event_id.
	names := map[string]string{}
	var entries []ebtypes.PutEventsRequestEntry
	add := func(name, detailType string, detail []byte) {
		var d struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(detail, &d); err != nil || d.EventID == "" || names[d.EventID] != "" {
			t.Fatalf("%s: event_id %q (%v)", name, d.EventID, err)
		}
		names[d.EventID] = name
		entries = append(entries, ebtypes.PutEventsRequestEntry{EventBusName: aws.String(bus), Source: aws.String(events.Source),
			DetailType: aws.String(detailType), Detail: aws.String(string(detail))})
	}
	for _, dt := range events.AllDetailTypes() {
		var ev struct{ Detail json.RawMessage }
		if err := json.Unmarshal(events.Example(dt), &ev); err != nil {
			t.Fatal(err)
		}
		add(dt, dt, ev.Detail)
	}
	for name, v := range variants {
		var ev events.RegistryEvent
		if err := json.Unmarshal(events.Example(v.detailType), &ev); err != nil {
			t.Fatal(err)
		}
		v.change(&ev.Detail)
		ev.Detail.RequestID = "variant: " + name // another write, so another event_id
		c := events.NewRegistryChange(v.detailType, ev.Detail)
		b, _ := json.Marshal(c)
		add(name, v.detailType, b)
	}
	entries = append(entries, ebtypes.PutEventsRequestEntry{EventBusName: aws.String(bus), Source: aws.String(sentinelSource),
		DetailType: aws.String("sentinel"), Detail: aws.String(`{}`)})
	for batch := range slices.Chunk(entries, 10) {
		out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: batch})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("put events: %v %+v", err, out)
		}
	}

	for p, want := range readmePatterns {
		got := receiveUntilSentinel(t, q, queues[p], sentinelSource, names)
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("pattern %s\ndelivered %v\nwant      %v", p, got, want)
		}
	}
}

// receiveUntilSentinel reads queueURL until the sentinel arrives and returns the names of the
// other events it got.
func receiveUntilSentinel(t *testing.T, q *sqs.Client, queueURL, sentinel string, names map[string]string) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for seen := false; !seen; {
		if time.Now().After(deadline) {
			t.Fatalf("the sentinel never reached %s (got %v)", queueURL, got)
		}
		out, err := q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var ev struct {
				Source string `json:"source"`
				Detail struct {
					EventID string `json:"event_id"`
				} `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Source == sentinel {
				seen = true
			} else {
				got = append(got, names[ev.Detail.EventID])
			}
			if _, err := q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

// readmeEventPatterns are the event patterns of the README's "Subscribing to events" section:
// each line of its json blocks that starts with {, compacted.
func readmeEventPatterns(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "\n## Subscribing to events\n")
	if start < 0 {
		t.Fatal("no Subscribing to events section in the README")
	}
	s = s[start+1:]
	if end := strings.Index(s[3:], "\n## "); end >= 0 {
		s = s[:end+3]
	}
	var out []string
	inJSON := false
	for _, line := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(line, "```json"):
			inJSON = true
		case strings.HasPrefix(line, "```"):
			inJSON = false
		case inJSON && strings.HasPrefix(strings.TrimSpace(line), "{"):
			var buf bytes.Buffer
			if err := json.Compact(&buf, []byte(line)); err != nil {
				t.Fatalf("README pattern is not JSON: %s: %v", line, err)
			}
			out = append(out, buf.String())
		}
	}
	if len(out) == 0 {
		t.Fatal("no event pattern in the README")
	}
	return out
}
