package provision

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// The package's moto server (testenv.Moto) is started by the first test and stopped here.
func TestMain(m *testing.M) { testenv.Main(m) }

func awsConfig(t *testing.T) aws.Config {
	t.Helper()
	return testenv.AWS(t)
}

func testModel() *template.Model {
	return &template.Model{
		StackName: "Test",
		Tables: []*template.Table{{
			LogicalID: "ItemsTable",
			Name:      "items",
			KeySchema: []template.KeyElement{{AttributeName: "pk", KeyType: "HASH"}, {AttributeName: "sk", KeyType: "RANGE"}},
			AttributeDefinitions: []template.AttributeDefinition{
				{AttributeName: "pk", AttributeType: "S"}, {AttributeName: "sk", AttributeType: "S"}, {AttributeName: "owner", AttributeType: "S"},
			},
			GlobalSecondaryIndexes: []template.SecondaryIndex{{
				IndexName:        "byOwner",
				KeySchema:        []template.KeyElement{{AttributeName: "owner", KeyType: "HASH"}},
				ProjectionType:   "INCLUDE",
				NonKeyAttributes: []string{"title"},
			}},
			TTLAttribute: "expiresAt",
		}},
		Buses: []*template.Bus{{LogicalID: "Bus", Name: "app-bus"}, {LogicalID: "Default", Name: "default"}},
		// The redrive source comes first so that Provision has to order the DLQ before it.
		Queues: []*template.Queue{
			{LogicalID: "WorkQueue", Name: "work", VisibilityTimeout: 5 * time.Second, DeadLetterQueue: "WorkDLQ", MaxReceiveCount: 3},
			{LogicalID: "WorkDLQ", Name: "work-dlq"},
			{LogicalID: "EventsQueue", Name: "events"},
			{LogicalID: "EventsDLQ", Name: "events-dlq"},
			{LogicalID: "Ordered", Name: "ordered.fifo", FIFO: true},
		},
		Secrets: []*template.Secret{
			{LogicalID: "Plain", Name: "plain", Value: "s3cret"},
			{LogicalID: "Password", Name: "password", Generate: json.RawMessage(`{"PasswordLength":20,"ExcludePunctuation":true,"ExcludeCharacters":"abc"}`)},
			{LogicalID: "Creds", Name: "creds", Generate: json.RawMessage(`{"SecretStringTemplate":"{\"username\":\"admin\"}","GenerateStringKey":"password"}`)},
		},
		LogGroups: []*template.LogGroup{
			{LogicalID: "Audit", Name: "/test/audit", RetentionDays: 30},
			{LogicalID: "Forever", Name: "/test/forever"},
		},
		Rules: []*template.Rule{
			{
				LogicalID: "OnCreated", Name: "on-created", Bus: "app-bus", Enabled: true,
				EventPattern: json.RawMessage(`{"source":["app"],"detail-type":["Created"]}`),
				Targets: []*template.Target{
					{ID: "Target0", Function: "HandlerFunction"},
					{ID: "Target1", Queue: "EventsQueue", DeadLetterQueue: "EventsDLQ"},
				},
			},
			{
				LogicalID: "Nightly", Name: "nightly", Bus: "default", Enabled: true, Schedule: "rate(1 day)",
				Targets: []*template.Target{{ID: "Target0", Function: "HandlerFunction"}},
			},
		},
	}
}

func TestProvision(t *testing.T) {
	cfg := awsConfig(t)
	ctx := t.Context()
	m := testModel()

	start := time.Now()
	res, err := Provision(ctx, cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("provisioned in %s", time.Since(start))

	t.Run("table", func(t *testing.T) {
		db := dynamodb.NewFromConfig(cfg)
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("items")})
		if err != nil {
			t.Fatal(err)
		}
		tbl := out.Table
		if tbl.BillingModeSummary == nil || tbl.BillingModeSummary.BillingMode != dbtypes.BillingModePayPerRequest {
			t.Errorf("billing mode = %+v, want PAY_PER_REQUEST", tbl.BillingModeSummary)
		}
		if len(tbl.KeySchema) != 2 || aws.ToString(tbl.KeySchema[1].AttributeName) != "sk" || tbl.KeySchema[1].KeyType != dbtypes.KeyTypeRange {
			t.Errorf("key schema = %+v", tbl.KeySchema)
		}
		if len(tbl.GlobalSecondaryIndexes) != 1 {
			t.Fatalf("GSIs = %+v, want byOwner", tbl.GlobalSecondaryIndexes)
		}
		gsi := tbl.GlobalSecondaryIndexes[0]
		if aws.ToString(gsi.IndexName) != "byOwner" || gsi.Projection.ProjectionType != dbtypes.ProjectionTypeInclude ||
			!slices.Equal(gsi.Projection.NonKeyAttributes, []string{"title"}) || aws.ToString(gsi.KeySchema[0].AttributeName) != "owner" {
			t.Errorf("GSI = %s %+v %+v", aws.ToString(gsi.IndexName), gsi.KeySchema, gsi.Projection)
		}
		ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("items")})
		if err != nil {
			t.Fatal(err)
		}
		if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != dbtypes.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "expiresAt" {
			t.Errorf("TTL = %s on %q, want ENABLED on expiresAt", d.TimeToLiveStatus, aws.ToString(d.AttributeName))
		}
	})

	t.Run("queues", func(t *testing.T) {
		q := sqs.NewFromConfig(cfg)
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(res.QueueURLs["WorkQueue"]), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		var policy struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     any    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &policy); err != nil {
			t.Fatalf("RedrivePolicy %q: %v", out.Attributes["RedrivePolicy"], err)
		}
		if policy.DeadLetterTargetArn != res.QueueARNs["WorkDLQ"] || fmt.Sprint(policy.MaxReceiveCount) != "3" {
			t.Errorf("RedrivePolicy = %+v, want WorkDLQ after 3", policy)
		}
		if got := out.Attributes["VisibilityTimeout"]; got != "5" {
			t.Errorf("VisibilityTimeout = %s, want 5", got)
		}
		fifo, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(res.QueueURLs["Ordered"]), AttributeNames: []sqstypes.QueueAttributeName{"FifoQueue"}})
		if err != nil {
			t.Fatal(err)
		}
		if fifo.Attributes["FifoQueue"] != "true" {
			t.Errorf("ordered.fifo attributes = %v", fifo.Attributes)
		}
	})

	harness, ok := res.RuleTargetQueues["OnCreated/Target0"]
	if !ok || harness.Function != "HandlerFunction" || harness.Target != m.Rules[0].Targets[0] || harness.QueueURL == "" {
		t.Fatalf("RuleTargetQueues = %+v, want OnCreated/Target0 → HandlerFunction", res.RuleTargetQueues)
	}
	if len(res.RuleTargetQueues) != 1 {
		t.Errorf("RuleTargetQueues = %+v, want only the pattern rule's Lambda target (schedules are run by the trigger runner)", res.RuleTargetQueues)
	}

	t.Run("rules", func(t *testing.T) {
		eb := eventbridge.NewFromConfig(cfg)
		rules, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String("app-bus")})
		if err != nil {
			t.Fatal(err)
		}
		if len(rules.Rules) != 1 || aws.ToString(rules.Rules[0].Name) != "on-created" || rules.Rules[0].State != ebtypes.RuleStateEnabled {
			t.Fatalf("rules on app-bus = %+v", rules.Rules)
		}
		if got := aws.ToString(rules.Rules[0].EventPattern); !jsonEqual(got, string(m.Rules[0].EventPattern)) {
			t.Errorf("pattern = %s", got)
		}
		if aws.ToString(rules.Rules[0].Arn) != res.RuleARNs["OnCreated"] {
			t.Errorf("rule ARN %s, recorded %s", aws.ToString(rules.Rules[0].Arn), res.RuleARNs["OnCreated"])
		}
		sched, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{NamePrefix: aws.String("nightly")})
		if err != nil {
			t.Fatal(err)
		}
		if len(sched.Rules) != 1 || aws.ToString(sched.Rules[0].ScheduleExpression) != "rate(1 day)" {
			t.Errorf("nightly = %+v", sched.Rules)
		}

		targets, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("on-created"), EventBusName: aws.String("app-bus")})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]ebtypes.Target{}
		for _, tg := range targets.Targets {
			byID[aws.ToString(tg.Id)] = tg
		}
		wantHarnessARN := "arn:aws:sqs:us-east-1:" + template.AccountID + ":" + HarnessQueueName("on-created", "Target0")
		if got := aws.ToString(byID["Target0"].Arn); got != wantHarnessARN {
			t.Errorf("Target0 ARN = %s, want the harness queue %s", got, wantHarnessARN)
		}
		if got := aws.ToString(byID["Target1"].Arn); got != res.QueueARNs["EventsQueue"] {
			t.Errorf("Target1 ARN = %s, want %s", got, res.QueueARNs["EventsQueue"])
		}
		if dlc := byID["Target1"].DeadLetterConfig; dlc == nil || aws.ToString(dlc.Arn) != res.QueueARNs["EventsDLQ"] {
			t.Errorf("Target1 DeadLetterConfig = %+v", dlc)
		}
	})

	t.Run("events", func(t *testing.T) {
		eb := eventbridge.NewFromConfig(cfg)
		q := sqs.NewFromConfig(cfg)
		put, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
			{EventBusName: aws.String("app-bus"), Source: aws.String("app"), DetailType: aws.String("Created"), Detail: aws.String(`{"id":"x1"}`)},
			{EventBusName: aws.String("app-bus"), Source: aws.String("app"), DetailType: aws.String("Deleted"), Detail: aws.String(`{"id":"x2"}`)},
			{EventBusName: aws.String("default"), Source: aws.String("app"), DetailType: aws.String("Created"), Detail: aws.String(`{"id":"x3"}`)},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if put.FailedEntryCount != 0 {
			t.Fatalf("PutEvents failed entries: %+v", put.Entries)
		}
		eventID := aws.ToString(put.Entries[0].EventId)
		for _, url := range []string{harness.QueueURL, res.QueueURLs["EventsQueue"]} {
			bodies := drain(t, q, url)
			if len(bodies) != 1 {
				t.Errorf("%s got %d messages, want the one matching event: %q", url, len(bodies), bodies)
				continue
			}
			// moto's body for SQS targets: the event without "account" (real EventBridge has it).
			var ev struct {
				Version    string          `json:"version"`
				ID         string          `json:"id"`
				DetailType string          `json:"detail-type"`
				Source     string          `json:"source"`
				Time       string          `json:"time"`
				Region     string          `json:"region"`
				Resources  []string        `json:"resources"`
				Detail     json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal([]byte(bodies[0]), &ev); err != nil {
				t.Fatalf("body %q: %v", bodies[0], err)
			}
			if ev.ID != eventID || ev.DetailType != "Created" || ev.Source != "app" || ev.Region != template.Region || ev.Version != "0" || !jsonEqual(string(ev.Detail), `{"id":"x1"}`) {
				t.Errorf("event = %s", bodies[0])
			}
			if _, err := time.Parse(time.RFC3339, ev.Time); err != nil {
				t.Errorf("time %q: %v", ev.Time, err)
			}
		}
	})

	t.Run("secrets", func(t *testing.T) {
		sm := secretsmanager.NewFromConfig(cfg)
		if got := secretValue(t, sm, "plain"); got != "s3cret" {
			t.Errorf("plain = %q", got)
		}
		pw := secretValue(t, sm, "password")
		if len(pw) != 20 || strings.ContainsAny(pw, "abc"+punctuation+" ") {
			t.Errorf("password = %q, want 20 characters without abc or punctuation", pw)
		}
		var creds map[string]string
		if err := json.Unmarshal([]byte(secretValue(t, sm, "creds")), &creds); err != nil {
			t.Fatal(err)
		}
		if creds["username"] != "admin" || len(creds["password"]) != 32 {
			t.Errorf("creds = %v, want admin and a 32-character password", creds)
		}
	})

	t.Run("log groups", func(t *testing.T) {
		logs := cloudwatchlogs.NewFromConfig(cfg)
		out, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/test/")})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int32{}
		for _, g := range out.LogGroups {
			got[aws.ToString(g.LogGroupName)] = aws.ToInt32(g.RetentionInDays)
		}
		if len(got) != 2 || got["/test/audit"] != 30 || got["/test/forever"] != 0 {
			t.Errorf("log groups and retention: %v", got)
		}
	})

	t.Run("again", func(t *testing.T) {
		sm := secretsmanager.NewFromConfig(cfg)
		pw := secretValue(t, sm, "password")
		m2 := testModel()
		m2.Secrets[0].Value = "changed"
		res2, err := Provision(ctx, cfg, m2)
		if err != nil {
			t.Fatalf("second Provision: %v", err)
		}
		if res2.QueueURLs["WorkQueue"] != res.QueueURLs["WorkQueue"] || res2.RuleTargetQueues["OnCreated/Target0"].QueueURL != harness.QueueURL {
			t.Errorf("second Provision gave other queues: %+v", res2)
		}
		if got := secretValue(t, sm, "password"); got != pw {
			t.Errorf("generated secret changed from %q to %q", pw, got)
		}
		if got := secretValue(t, sm, "plain"); got != "changed" {
			t.Errorf("plain = %q after the template changed it", got)
		}
	})
}

func TestProvisionErrorsNameTheResource(t *testing.T) {
	cfg := awsConfig(t)
	m := &template.Model{Queues: []*template.Queue{{LogicalID: "Orphan", Name: "orphan", DeadLetterQueue: "Missing", MaxReceiveCount: 1}}}
	_, err := Provision(t.Context(), cfg, m)
	if err == nil || !strings.Contains(err.Error(), "queue Orphan") || !strings.Contains(err.Error(), "Missing") {
		t.Errorf("err = %v, want it to name queue Orphan and its missing DLQ", err)
	}
	m = &template.Model{Rules: []*template.Rule{{LogicalID: "Bad", Name: "bad", Enabled: true, Schedule: "rate(1 day)", Bus: "nope"}}}
	_, err = Provision(t.Context(), cfg, m)
	if err == nil || !strings.Contains(err.Error(), "rule Bad") {
		t.Errorf("err = %v, want it to name rule Bad", err)
	}
}

// drain receives until the queue stays empty for a second, deleting what it gets.
func drain(t *testing.T, q *sqs.Client, url string) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := q.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, msg := range out.Messages {
			bodies = append(bodies, aws.ToString(msg.Body))
			if _, err := q.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: msg.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func secretValue(t *testing.T, sm *secretsmanager.Client, name string) string {
	t.Helper()
	out, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.SecretString)
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// moto 5.2.5 answers PutEvents with a 500 (NotImplementedError in Rule.send_to_targets) when a
// matching rule has a Lambda target; this is why Provision puts harness queues in their place.
// If this test fails, moto has learnt Lambda targets and the workaround can be reconsidered.
func TestMotoCannotDeliverToLambdaTargets(t *testing.T) {
	cfg := awsConfig(t)
	cfg.RetryMaxAttempts = 1
	ctx := t.Context()
	eb := eventbridge.NewFromConfig(cfg)
	_, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("lambda-probe")})
	if _, exists := errors.AsType[*ebtypes.ResourceAlreadyExistsException](err); err != nil && !exists {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("lambda-probe"), EventBusName: aws.String("lambda-probe"), EventPattern: aws.String(`{"source":["probe"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("lambda-probe"), EventBusName: aws.String("lambda-probe"), Targets: []ebtypes.Target{
		{Id: aws.String("fn"), Arn: aws.String("arn:aws:lambda:us-east-1:" + template.AccountID + ":function:probe")},
	}}); err != nil {
		t.Fatal(err)
	}
	_, err = eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{EventBusName: aws.String("lambda-probe"), Source: aws.String("probe"), DetailType: aws.String("x"), Detail: aws.String(`{}`)},
	}})
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("PutEvents to a rule with a Lambda target: err = %v, want moto's 500", err)
	}
}

func TestHarnessQueueName(t *testing.T) {
	if got := HarnessQueueName("on-created", "Target0"); got != "on-created-Target0-harness" {
		t.Errorf("short name = %q", got)
	}
	if got := HarnessQueueName("Stack.Rule", "t.1"); got != "Stack_Rule-t_1-harness" {
		t.Errorf("dotted name = %q, want SQS-safe characters", got)
	}
	long := strings.Repeat("r", 64)
	a, b := HarnessQueueName(long, "Target0"), HarnessQueueName(long, "Target1")
	if len(a) > 80 || len(b) > 80 || a == b || !strings.HasSuffix(a, "-harness") {
		t.Errorf("long names %q and %q: want distinct, ≤ 80 characters, ending -harness", a, b)
	}
}
