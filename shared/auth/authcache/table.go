package authcache

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// DynamoDBAPI is what Table needs of a DynamoDB client.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Table is the validation-cache table the stack creates for the external auth source: partition
// key key_hash, DynamoDB TTL on the attribute ttl. It is shared by every container, so one
// container's call to the auth service serves the others.
type Table struct {
	client DynamoDBAPI
	name   string
	grace  time.Duration
}

// NewTable reads and writes the table called name. grace is the outage grace: valid items are
// kept that long past their expiry.
func NewTable(client DynamoDBAPI, name string, grace time.Duration) *Table {
	return &Table{client: client, name: name, grace: grace}
}

// item is the stored form of an Entry.
type item struct {
	KeyHash   string   `dynamodbav:"key_hash"`
	Valid     bool     `dynamodbav:"valid"`
	UserID    string   `dynamodbav:"user_id,omitempty"`
	KeyID     string   `dynamodbav:"key_id,omitempty"`
	Email     string   `dynamodbav:"email,omitempty"`
	ServiceID string   `dynamodbav:"service_id,omitempty"`
	Scopes    []string `dynamodbav:"scopes,omitempty"`
	IsAdmin   bool     `dynamodbav:"is_admin"`
	// Patterns are the key's narrowing: lost here, another container would serve the key as
	// not narrowed.
	Patterns []string `dynamodbav:"resource_patterns,omitempty"`
	// ExpiresAt (epoch milliseconds) is what the code goes by. TTL (epoch seconds) only tells
	// DynamoDB when it may delete the item, which it does up to days late: never a freshness test.
	ExpiresAt int64 `dynamodbav:"expires_at"`
	TTL       int64 `dynamodbav:"ttl"`
}

// TTLAttr is the table's DynamoDB TTL attribute, as the stack declares it.
const TTLAttr = "ttl"

// Get returns the item for digest if there is one. The caller decides what an expired one is good
// for; DynamoDB may not have deleted it yet.
func (t *Table) Get(ctx context.Context, digest string) (Entry, bool, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(t.name),
		Key:       map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: digest}},
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("validation cache %s: get item: %w", t.name, err)
	}
	if len(out.Item) == 0 {
		return Entry{}, false, nil
	}
	var it item
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return Entry{}, false, fmt.Errorf("validation cache %s: decode item: %w", t.name, err)
	}
	patterns, err := permissions.ParsePatterns(it.Patterns)
	if it.ExpiresAt <= 0 || it.Valid && it.UserID == "" || err != nil {
		return Entry{}, false, nil // not ours, or damaged: as good as absent
	}
	return Entry{
		Valid: it.Valid,
		Principal: principal.Principal{
			UserID: it.UserID, KeyID: it.KeyID, Email: it.Email, ServiceID: it.ServiceID,
			Scopes: it.Scopes, Admin: it.IsAdmin, Patterns: patterns,
		},
		ExpiresAt: time.UnixMilli(it.ExpiresAt),
	}, true, nil
}

// Put stores e for digest, replacing what was there.
func (t *Table) Put(ctx context.Context, digest string, e Entry) error {
	p := e.Principal
	av, err := attributevalue.MarshalMap(item{
		KeyHash: digest, Valid: e.Valid,
		UserID: p.UserID, KeyID: p.KeyID, Email: p.Email, ServiceID: p.ServiceID, Scopes: p.Scopes, IsAdmin: p.Admin,
		Patterns:  permissions.PatternStrings(p.Patterns),
		ExpiresAt: e.ExpiresAt.UnixMilli(),
		TTL:       t.deleteAfter(e).Unix(),
	})
	if err != nil {
		return fmt.Errorf("validation cache %s: encode item: %w", t.name, err)
	}
	if _, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.name), Item: av}); err != nil {
		return fmt.Errorf("validation cache %s: put item: %w", t.name, err)
	}
	return nil
}

// deleteAfter is when DynamoDB may delete e, rounded up to its one-second resolution. A valid
// entry must outlive its expiry by the grace, or DynamoDB could take away the outage stand-in.
func (t *Table) deleteAfter(e Entry) time.Time {
	at := e.ExpiresAt
	if e.Valid {
		at = at.Add(t.grace)
	}
	if trunc := at.Truncate(time.Second); !trunc.Equal(at) {
		return trunc.Add(time.Second)
	}
	return at
}
