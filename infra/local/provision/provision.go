// Package provision creates a stack's tables, buses, queues, secrets, log groups and rules in moto, so the
// functions the harness runs find what their environment names.
//
// Two things moto cannot do are worked around here. Its PutEvents fails with a 500 when a rule
// has a Lambda target, so every Lambda target is replaced by a harness-made queue that the
// trigger runner drains (see RuleTargetQueue). And moto matches every event against a rule with
// no pattern and ignores a rule's state, so schedule rules and disabled rules get no targets in
// moto: the trigger runner fires schedules itself.
package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// defaultBus is EventBridge's account bus, which always exists.
const defaultBus = "default"

// Resources are the physical identities of what Provision created.
type Resources struct {
	// QueueURLs and QueueARNs by queue logical id.
	QueueURLs map[string]string
	QueueARNs map[string]string
	// RuleARNs by rule logical id.
	RuleARNs map[string]string
	// SecretARNs by secret logical id.
	SecretARNs map[string]string
	// RuleTargetQueues are the harness-made queues standing in for Lambda targets, by
	// "<rule logical id>/<target id>".
	RuleTargetQueues map[string]RuleTargetQueue
}

// RuleTargetQueue is a queue put in moto as a rule's target in place of a Lambda function. The
// message bodies are the events as moto formats them for SQS targets.
type RuleTargetQueue struct {
	Rule     string // rule logical id
	TargetID string
	Function string // function logical id
	QueueURL string
	Target   *template.Target
}

// Provision creates m's resources in the moto that cfg points at. Running it again on the same
// moto succeeds and leaves the resources as m describes them; generated secret values are kept.
func Provision(ctx context.Context, cfg aws.Config, m *template.Model) (*Resources, error) {
	p := &provisioner{
		db:   dynamodb.NewFromConfig(cfg),
		eb:   eventbridge.NewFromConfig(cfg),
		sqs:  sqs.NewFromConfig(cfg),
		sm:   secretsmanager.NewFromConfig(cfg),
		logs: cloudwatchlogs.NewFromConfig(cfg),
		res: &Resources{
			QueueURLs:        map[string]string{},
			QueueARNs:        map[string]string{},
			RuleARNs:         map[string]string{},
			SecretARNs:       map[string]string{},
			RuleTargetQueues: map[string]RuleTargetQueue{},
		},
	}
	for _, t := range m.Tables {
		if err := p.table(ctx, t); err != nil {
			return nil, fmt.Errorf("provision: table %s: %w", t.LogicalID, err)
		}
	}
	for _, b := range m.Buses {
		if err := p.bus(ctx, b); err != nil {
			return nil, fmt.Errorf("provision: bus %s: %w", b.LogicalID, err)
		}
	}
	queues := make(map[string]*template.Queue, len(m.Queues))
	for _, q := range m.Queues {
		queues[q.LogicalID] = q
	}
	for _, q := range m.Queues {
		if err := p.queue(ctx, queues, q, nil); err != nil {
			return nil, err
		}
	}
	for _, s := range m.Secrets {
		if err := p.secret(ctx, s); err != nil {
			return nil, fmt.Errorf("provision: secret %s: %w", s.LogicalID, err)
		}
	}
	for _, g := range m.LogGroups {
		if err := p.logGroup(ctx, g); err != nil {
			return nil, fmt.Errorf("provision: log group %s: %w", g.LogicalID, err)
		}
	}
	for _, r := range m.Rules {
		if err := p.rule(ctx, r); err != nil {
			return nil, fmt.Errorf("provision: rule %s: %w", r.LogicalID, err)
		}
	}
	return p.res, nil
}

type provisioner struct {
	db   *dynamodb.Client
	eb   *eventbridge.Client
	sqs  *sqs.Client
	sm   *secretsmanager.Client
	logs *cloudwatchlogs.Client
	res  *Resources
}

func (p *provisioner) table(ctx context.Context, t *template.Table) error {
	if t.Name == "" {
		return errors.New("no physical name")
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(t.Name),
		BillingMode: dbtypes.BillingModePayPerRequest,
		KeySchema:   keySchema(t.KeySchema),
	}
	for _, a := range t.AttributeDefinitions {
		in.AttributeDefinitions = append(in.AttributeDefinitions, dbtypes.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName),
			AttributeType: dbtypes.ScalarAttributeType(a.AttributeType),
		})
	}
	for _, g := range t.GlobalSecondaryIndexes {
		proj := dbtypes.ProjectionType(g.ProjectionType)
		if proj == "" {
			proj = dbtypes.ProjectionTypeAll // CloudFormation's default
		}
		gsi := dbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(g.IndexName),
			KeySchema:  keySchema(g.KeySchema),
			Projection: &dbtypes.Projection{ProjectionType: proj},
		}
		if len(g.NonKeyAttributes) > 0 {
			gsi.Projection.NonKeyAttributes = g.NonKeyAttributes
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
	}
	if _, err := p.db.CreateTable(ctx, in); err != nil {
		// The table exists from an earlier run; its schema cannot be changed in place anyway.
		if _, ok := errors.AsType[*dbtypes.ResourceInUseException](err); !ok {
			return fmt.Errorf("create %s: %w", t.Name, err)
		}
	}
	if t.TTLAttribute == "" {
		return nil
	}
	// UpdateTimeToLive fails when TTL is already on, so look first.
	ttl, err := p.db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(t.Name)})
	if err != nil {
		return fmt.Errorf("describe TTL of %s: %w", t.Name, err)
	}
	if d := ttl.TimeToLiveDescription; d != nil && d.TimeToLiveStatus == dbtypes.TimeToLiveStatusEnabled &&
		aws.ToString(d.AttributeName) == t.TTLAttribute {
		return nil
	}
	_, err = p.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(t.Name),
		TimeToLiveSpecification: &dbtypes.TimeToLiveSpecification{
			AttributeName: aws.String(t.TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", t.Name, err)
	}
	return nil
}

func keySchema(ks []template.KeyElement) []dbtypes.KeySchemaElement {
	out := make([]dbtypes.KeySchemaElement, 0, len(ks))
	for _, k := range ks {
		out = append(out, dbtypes.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: dbtypes.KeyType(k.KeyType)})
	}
	return out
}

func (p *provisioner) bus(ctx context.Context, b *template.Bus) error {
	if b.Name == defaultBus {
		return nil
	}
	if b.Name == "" {
		return errors.New("no physical name")
	}
	_, err := p.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(b.Name)})
	if _, exists := errors.AsType[*ebtypes.ResourceAlreadyExistsException](err); err != nil && !exists {
		return fmt.Errorf("create %s: %w", b.Name, err)
	}
	return nil
}

// queue creates q after its dead-letter queue, since the redrive policy names the DLQ's ARN.
// creating holds the queues on the path here, to report a redrive cycle instead of recursing
// forever.
func (p *provisioner) queue(ctx context.Context, all map[string]*template.Queue, q *template.Queue, creating []string) error {
	if _, done := p.res.QueueURLs[q.LogicalID]; done {
		return nil
	}
	for _, id := range creating {
		if id == q.LogicalID {
			return fmt.Errorf("provision: queue %s: dead-letter cycle %s", q.LogicalID, strings.Join(append(creating, id), " → "))
		}
	}
	attrs := map[string]string{}
	if q.DeadLetterQueue != "" {
		dlq, ok := all[q.DeadLetterQueue]
		if !ok {
			return fmt.Errorf("provision: queue %s: dead-letter queue %s is not in the model", q.LogicalID, q.DeadLetterQueue)
		}
		if err := p.queue(ctx, all, dlq, append(creating, q.LogicalID)); err != nil {
			return err
		}
		policy, _ := json.Marshal(map[string]any{
			"deadLetterTargetArn": p.res.QueueARNs[dlq.LogicalID],
			"maxReceiveCount":     q.MaxReceiveCount,
		})
		attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = string(policy)
	}
	if q.VisibilityTimeout > 0 {
		attrs[string(sqstypes.QueueAttributeNameVisibilityTimeout)] = strconv.Itoa(int(q.VisibilityTimeout.Seconds()))
	}
	url, arn, err := p.ensureQueue(ctx, q.Name, q.FIFO, attrs)
	if err != nil {
		return fmt.Errorf("provision: queue %s: %w", q.LogicalID, err)
	}
	p.res.QueueURLs[q.LogicalID] = url
	p.res.QueueARNs[q.LogicalID] = arn
	return nil
}

// ensureQueue creates a queue, or finds it, and then sets attrs. Only the immutable FIFO flag
// goes into CreateQueue: SQS refuses to "create" an existing queue with different attributes.
func (p *provisioner) ensureQueue(ctx context.Context, name string, fifo bool, attrs map[string]string) (url, arn string, err error) {
	if name == "" {
		return "", "", errors.New("no physical name")
	}
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if fifo {
		in.Attributes = map[string]string{string(sqstypes.QueueAttributeNameFifoQueue): "true"}
	}
	out, err := p.sqs.CreateQueue(ctx, in)
	if err != nil {
		return "", "", fmt.Errorf("create %s: %w", name, err)
	}
	url = aws.ToString(out.QueueUrl)
	if len(attrs) > 0 {
		if _, err := p.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: out.QueueUrl, Attributes: attrs}); err != nil {
			return "", "", fmt.Errorf("set attributes of %s: %w", name, err)
		}
	}
	got, err := p.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       out.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("get ARN of %s: %w", name, err)
	}
	return url, got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

func (p *provisioner) secret(ctx context.Context, s *template.Secret) error {
	if s.Name == "" {
		return errors.New("no physical name")
	}
	value := s.Value
	if value == "" {
		var err error
		if value, err = generateSecret(s.Generate); err != nil {
			return err
		}
	}
	out, err := p.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(s.Name), SecretString: aws.String(value)})
	if err == nil {
		p.res.SecretARNs[s.LogicalID] = aws.ToString(out.ARN)
		return nil
	}
	if _, exists := errors.AsType[*smtypes.ResourceExistsException](err); !exists {
		return fmt.Errorf("create %s: %w", s.Name, err)
	}
	// A generated value stays what it was, as on a CloudFormation update; a template value wins.
	cur, err := p.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.Name)})
	if err != nil {
		return fmt.Errorf("read %s: %w", s.Name, err)
	}
	p.res.SecretARNs[s.LogicalID] = aws.ToString(cur.ARN)
	if s.Value == "" || aws.ToString(cur.SecretString) == s.Value {
		return nil
	}
	if _, err := p.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(s.Name), SecretString: aws.String(s.Value)}); err != nil {
		return fmt.Errorf("update %s: %w", s.Name, err)
	}
	return nil
}

func (p *provisioner) rule(ctx context.Context, r *template.Rule) error {
	if r.Name == "" {
		return errors.New("no physical name")
	}
	bus := r.Bus
	if bus == "" {
		bus = defaultBus
	}
	in := &eventbridge.PutRuleInput{Name: aws.String(r.Name), EventBusName: aws.String(bus), State: ebtypes.RuleStateDisabled}
	if r.Enabled {
		in.State = ebtypes.RuleStateEnabled
	}
	switch {
	case len(r.EventPattern) > 0:
		in.EventPattern = aws.String(string(r.EventPattern))
	case r.Schedule != "":
		in.ScheduleExpression = aws.String(r.Schedule)
	default:
		return errors.New("neither an event pattern nor a schedule")
	}
	out, err := p.eb.PutRule(ctx, in)
	if err != nil {
		return fmt.Errorf("put %s: %w", r.Name, err)
	}
	p.res.RuleARNs[r.LogicalID] = aws.ToString(out.RuleArn)
	// moto would deliver every event on the bus to a schedule rule's targets, and events to a
	// disabled rule's targets; the trigger runner fires schedules instead.
	if r.Schedule != "" || !r.Enabled {
		return nil
	}
	var targets []ebtypes.Target
	for _, t := range r.Targets {
		et, err := p.target(ctx, r, t)
		if err != nil {
			return fmt.Errorf("target %s: %w", t.ID, err)
		}
		targets = append(targets, et)
	}
	if len(targets) == 0 {
		return nil
	}
	put, err := p.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(r.Name), EventBusName: aws.String(bus), Targets: targets})
	if err != nil {
		return fmt.Errorf("put targets of %s: %w", r.Name, err)
	}
	if put.FailedEntryCount > 0 {
		e := put.FailedEntries[0]
		return fmt.Errorf("put targets of %s: target %s: %s: %s", r.Name, aws.ToString(e.TargetId), aws.ToString(e.ErrorCode), aws.ToString(e.ErrorMessage))
	}
	return nil
}

// target is t as moto gets it: an SQS target as declared, a Lambda target as a harness queue.
func (p *provisioner) target(ctx context.Context, r *template.Rule, t *template.Target) (ebtypes.Target, error) {
	et := ebtypes.Target{Id: aws.String(t.ID)}
	if len(t.Input) > 0 {
		et.Input = aws.String(string(t.Input))
	}
	if t.DeadLetterQueue != "" {
		arn, ok := p.res.QueueARNs[t.DeadLetterQueue]
		if !ok {
			return et, fmt.Errorf("dead-letter queue %s is not in the model", t.DeadLetterQueue)
		}
		et.DeadLetterConfig = &ebtypes.DeadLetterConfig{Arn: aws.String(arn)}
	}
	if t.MaxRetryAttempts > 0 || t.MaxEventAge > 0 {
		et.RetryPolicy = &ebtypes.RetryPolicy{}
		if t.MaxRetryAttempts > 0 {
			et.RetryPolicy.MaximumRetryAttempts = aws.Int32(int32(t.MaxRetryAttempts))
		}
		if t.MaxEventAge > 0 {
			et.RetryPolicy.MaximumEventAgeInSeconds = aws.Int32(int32(t.MaxEventAge.Seconds()))
		}
	}
	switch {
	case t.Queue != "":
		arn, ok := p.res.QueueARNs[t.Queue]
		if !ok {
			return et, fmt.Errorf("queue %s is not in the model", t.Queue)
		}
		et.Arn = aws.String(arn)
	case t.Function != "":
		name := HarnessQueueName(r.Name, t.ID)
		url, arn, err := p.ensureQueue(ctx, name, false, nil)
		if err != nil {
			return et, fmt.Errorf("harness queue: %w", err)
		}
		et.Arn = aws.String(arn)
		p.res.RuleTargetQueues[r.LogicalID+"/"+t.ID] = RuleTargetQueue{
			Rule: r.LogicalID, TargetID: t.ID, Function: t.Function, QueueURL: url, Target: t,
		}
	default:
		return et, errors.New("neither a function nor a queue")
	}
	return et, nil
}

// maxQueueName is SQS's limit on queue names.
const maxQueueName = 80

var queueNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// HarnessQueueName names the queue standing in for a rule's Lambda target:
// "<rule name>-<target id>-harness", made of the characters SQS allows and, when that is too
// long, shortened with a hash so distinct targets keep distinct queues.
func HarnessQueueName(rule, targetID string) string {
	const suffix = "-harness"
	base := queueNameUnsafe.ReplaceAllString(rule+"-"+targetID, "_")
	if len(base)+len(suffix) <= maxQueueName {
		return base + suffix
	}
	sum := sha256.Sum256([]byte(rule + "/" + targetID))
	hash := "-" + hex.EncodeToString(sum[:4])
	return base[:maxQueueName-len(suffix)-len(hash)] + hash + suffix
}
