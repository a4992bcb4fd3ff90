package stack

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventschemas"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdaeventsources"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/hokusai-protocol/registry-gateway/events"
)

// Delivery is what carries registration events to their consumers: the outbox schedule, the
// example subscriber queue, the optional webhook, and the schema registry.
type Delivery struct {
	OutboxSchedule awsevents.Rule
	// Subscriber is the example consumer: every registry event lands in this queue.
	Subscriber    awssqs.Queue
	SubscriberDLQ awssqs.Queue
	Webhook       *Function
	WebhookQueue  awssqs.Queue
	WebhookDLQ    awssqs.Queue
	Registry      awseventschemas.CfnRegistry
}

// WebhookMaxReceives is how often SQS hands a webhook delivery to the function before the
// dead-letter queue takes it.
const WebhookMaxReceives = 8

// queue makes an encrypted, TLS-only queue with a dead-letter queue after maxReceives.
func queue(scope constructs.Construct, id string, visibility awscdk.Duration, maxReceives float64) (awssqs.Queue, awssqs.Queue) {
	dlq := awssqs.NewQueue(scope, jsii.String(id+"DLQ"), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	q := awssqs.NewQueue(scope, jsii.String(id), &awssqs.QueueProps{
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		VisibilityTimeout: visibility,
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(maxReceives)},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SQS3"), Reason: jsii.String("This queue is itself a dead-letter queue."),
	}}, jsii.Bool(false))
	return q, dlq
}

func newDelivery(scope constructs.Construct, env EnvConfig, s *Stack, outbox *Function, alarms *Alarms) *Delivery {
	c := constructs.NewConstruct(scope, jsii.String("Delivery"))
	d := &Delivery{}
	bus := s.Events.Bus

	// The outbox re-publishes what PutEvents could not send at registration time.
	d.OutboxSchedule = awsevents.NewRule(c, jsii.String("OutboxSchedule"), &awsevents.RuleProps{
		Description: jsii.String("Re-publish registration events that failed to go out"),
		Schedule:    awsevents.Schedule_Rate(awscdk.Duration_Minutes(jsii.Number(1))),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(outbox.Lambda, nil)},
	})

	// An example subscriber: deployers and token minting subscribe the same way, with rules of
	// their own on the bus.
	d.Subscriber, d.SubscriberDLQ = queue(c, "SubscriberQueue", awscdk.Duration_Seconds(jsii.Number(30)), 5)
	awsevents.NewRule(c, jsii.String("SubscriberRule"), &awsevents.RuleProps{
		Description:  jsii.String("Example subscriber: every registry event to a queue"),
		EventBus:     bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(events.Source), DetailType: jsii.Strings(events.AllDetailTypes()...)},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSqsQueue(d.Subscriber, &awseventstargets.SqsQueueProps{
			DeadLetterQueue: d.SubscriberDLQ,
		})},
	})

	if env.WebhookURL != "" {
		d.webhook(c, env, s, alarms)
	}

	// The schema registry publishes the contract of events/ for code generation and discovery.
	d.Registry = awseventschemas.NewCfnRegistry(c, jsii.String("Schemas"), &awseventschemas.CfnRegistryProps{
		RegistryName: jsii.String(fmt.Sprintf("hokusai-registry-%s", env.Name)),
		Description:  jsii.String("Schemas of the Hokusai registry events (events/ in the repository)"),
	})
	for _, dt := range events.DetailTypes {
		// The registry takes draft 4 only; events/ derives it from the 2020-12 contract.
		content, err := events.RegistrySchema(dt)
		if err != nil {
			panic(fmt.Sprintf("events/ has no usable schema for %s: %v", dt, err)) // a build defect, caught by the stack tests
		}
		awseventschemas.NewCfnSchema(c, jsii.String("Schema"+exportedName(dt)), &awseventschemas.CfnSchemaProps{
			RegistryName: d.Registry.AttrRegistryName(),
			SchemaName:   jsii.String(events.Source + "@" + dt),
			Type:         jsii.String("JSONSchemaDraft4"),
			Content:      jsii.String(string(content)),
			Description:  jsii.String("The " + dt + " event"),
		})
	}

	alarms.add("SubscriberDLQDepth", "Registry events could not be delivered to the subscriber queue",
		d.SubscriberDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5))}), 1, 1, 1)
	// The outbox writes this metric on every run: no data means the outbox itself stopped.
	alarms.addMissingBreaches("OldestPendingEvent", "A registration's events have waited more than 15 minutes to be published",
		awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("Hokusai/Registry"), MetricName: jsii.String("OldestPendingEventAgeSeconds"),
			DimensionsMap: &map[string]*string{"Environment": jsii.String(env.Name)},
			Statistic:     jsii.String("Maximum"), Period: awscdk.Duration_Minutes(jsii.Number(5)),
		}), 900, 1, 1)
	return d
}

func (d *Delivery) webhook(c constructs.Construct, env EnvConfig, s *Stack, alarms *Alarms) {
	// The signing secret is generated here; subscribers read it from Secrets Manager.
	secret := awssecretsmanager.NewSecret(c, jsii.String("WebhookSecret"), &awssecretsmanager.SecretProps{
		Description:          jsii.String("HMAC-SHA256 key of X-Hokusai-Signature on webhook deliveries"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{PasswordLength: jsii.Number(48), ExcludePunctuation: jsii.Bool(true)},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("Rotating the signing key needs the receiver to accept both keys; it is rotated by hand with the receiver's operators."),
	}}, jsii.Bool(false))
	// Retry policy: each receive is one POST; a failure returns the message to the queue after
	// the visibility timeout (webhookRetrySeconds, 60 s by default), and after WebhookMaxReceives
	// attempts the DLQ keeps it.
	// The queue's visibility timeout is 6× the function's, as AWS advises for event source
	// mappings; the retry pause itself is the function's (WEBHOOK_RETRY_BASE, doubled per receive).
	d.WebhookQueue, d.WebhookDLQ = queue(c, "WebhookQueue", awscdk.Duration_Seconds(jsii.Number(60)), WebhookMaxReceives)
	fn := newFunction(c, "webhook", FunctionProps{
		Env: env, AssetPath: filepath.Join(s.buildDir, "webhook"),
		Environ: map[string]string{
			"WEBHOOK_URL": env.WebhookURL, "WEBHOOK_SECRET_ARN": *secret.SecretArn(),
			"WEBHOOK_DETAIL_TYPES": strings.Join(env.WebhookDetailTypes, ","),
			"WEBHOOK_RETRY_BASE":   fmt.Sprintf("%ds", env.WebhookRetrySeconds),
			"WEBHOOK_DLQ_URL":      *d.WebhookDLQ.QueueUrl(),
		},
		Timeout: awscdk.Duration_Seconds(jsii.Number(10)),
	})
	s.Functions["webhook"] = fn
	d.Webhook = fn
	secret.GrantRead(fn.Role, nil)
	// Permanent failures (a 4xx the receiver will never accept) go straight to the DLQ.
	d.WebhookDLQ.GrantSendMessages(fn.Role)
	fn.Lambda.AddEventSource(awslambdaeventsources.NewSqsEventSource(d.WebhookQueue, &awslambdaeventsources.SqsEventSourceProps{
		BatchSize: jsii.Number(10), ReportBatchItemFailures: jsii.Bool(true),
	}))
	awsevents.NewRule(c, jsii.String("WebhookRule"), &awsevents.RuleProps{
		Description:  jsii.String("Registry events for the webhook"),
		EventBus:     s.Events.Bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(events.Source), DetailType: jsii.Strings(env.WebhookDetailTypes...)},
		Targets:      &[]awsevents.IRuleTarget{awseventstargets.NewSqsQueue(d.WebhookQueue, &awseventstargets.SqsQueueProps{DeadLetterQueue: d.WebhookDLQ})},
	})
	alarms.add("WebhookDLQDepth", "Webhook deliveries failed every retry",
		d.WebhookDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5))}), 1, 1, 1)
}

// grantPutEvents lets fn publish to the bus, and only to it.
func grantPutEvents(bus awsevents.EventBus, fn *Function) {
	fn.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("events:PutEvents"), Resources: &[]*string{bus.EventBusArn()},
	}))
}
