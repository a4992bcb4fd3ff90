package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
)

// Data holds the DynamoDB tables.
type Data struct {
	// Keys stores API keys by SHA-256 digest (dynamodb auth source).
	Keys awsdynamodb.Table
	// Registrations holds registration records with their pending events, and idempotency records.
	Registrations awsdynamodb.Table
	// ValidationCache caches external auth-service answers; nil unless AuthSource is external.
	ValidationCache awsdynamodb.Table
	// Sessions holds the MLflow UI's sessions and one-time sign-in links, each under the digest
	// of its secret part (shared/auth/uisession), removed by TTL once ended.
	Sessions awsdynamodb.Table
}

// Table attribute names shared with the functions that read them.
const (
	KeysHashAttr      = "key_hash"
	KeysUserIndex     = "by_user"
	KeysIDIndex       = "by_key_id"
	RegistrationsPK   = "pk"
	OutboxIndex       = "pending_events"
	TTLAttr           = "ttl"
	ValidationCachePK = "key_hash"
)

func newData(scope constructs.Construct, env EnvConfig) *Data {
	c := constructs.NewConstruct(scope, jsii.String("Data"))
	removal := awscdk.RemovalPolicy_DESTROY
	if env.Retain {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	table := func(id, pk string, ttl bool) awsdynamodb.Table {
		props := &awsdynamodb.TableProps{
			PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(pk), Type: awsdynamodb.AttributeType_STRING},
			BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
			Encryption:   awsdynamodb.TableEncryption_AWS_MANAGED,
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			DeletionProtection: jsii.Bool(env.Retain),
			RemovalPolicy:      removal,
		}
		if ttl {
			props.TimeToLiveAttribute = jsii.String(TTLAttr)
		}
		return awsdynamodb.NewTable(c, jsii.String(id), props)
	}

	d := &Data{
		Keys:          table("Keys", KeysHashAttr, false),
		Registrations: table("Registrations", RegistrationsPK, true),
		Sessions:      table("Sessions", uisession.PK, true),
	}
	d.Keys.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:    jsii.String(KeysUserIndex),
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("user_id"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String("created_at"), Type: awsdynamodb.AttributeType_STRING},
	})
	d.Keys.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:    jsii.String(KeysIDIndex),
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("key_id"), Type: awsdynamodb.AttributeType_STRING},
	})
	// Sparse: only records with events still to publish carry outbox_status, so the outbox reads
	// exactly the backlog and nothing else.
	d.Registrations.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
		IndexName:    jsii.String(OutboxIndex),
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String("outbox_status"), Type: awsdynamodb.AttributeType_STRING},
		SortKey:      &awsdynamodb.Attribute{Name: jsii.String("next_attempt_at"), Type: awsdynamodb.AttributeType_NUMBER},
	})
	if env.AuthSource == "external" {
		d.ValidationCache = table("ValidationCache", ValidationCachePK, true)
	}
	return d
}
