package authorizer

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
)

// GetItemAPI is what KeysTable needs of a DynamoDB client.
type GetItemAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// KeysTable reads issued keys from the keys table: the authorizer's whole need of the key store is
// one GetItem by digest, so it does not depend on the keys function's CRUD.
type KeysTable struct {
	client GetItemAPI
	name   string
}

// NewKeysTable reads the table called name.
func NewKeysTable(client GetItemAPI, name string) *KeysTable {
	return &KeysTable{client: client, name: name}
}

// Get returns the record stored under digest, or nil if there is none. The read is strongly
// consistent: a key used right after it was minted (a CI job does exactly that) must not be
// refused and then remembered as invalid for AUTH_NEGATIVE_CACHE_TTL. It costs half a read unit
// more per miss, and misses are at most one per key per container per AUTH_CACHE_TTL.
func (t *KeysTable) Get(ctx context.Context, digest string) (*keystore.Record, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(t.name),
		Key:            map[string]types.AttributeValue{"key_hash": &types.AttributeValueMemberS{Value: digest}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("keys table %s: get item: %w", t.name, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	var rec keystore.Record
	if err := attributevalue.UnmarshalMap(out.Item, &rec); err != nil {
		return nil, fmt.Errorf("keys table %s: decode record: %w", t.name, err)
	}
	return &rec, nil
}
