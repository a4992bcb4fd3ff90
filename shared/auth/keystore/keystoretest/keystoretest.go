// Package keystoretest gives tests a keys table laid out as the stack lays it out
// (infra/stack/data.go), in a real DynamoDB API such as testenv.AWS's moto server, so the store is
// tested against real DynamoDB semantics.
package keystoretest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
)

// NewStore creates a keys table named table in db and returns a store over it.
func NewStore(t testing.TB, db *dynamodb.Client, table string) *keystore.Store {
	t.Helper()
	if err := CreateTable(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	return keystore.New(db, table)
}

// CreateTable creates the keys table with both indexes, projecting all attributes (the CDK
// default), and waits until it is active.
func CreateTable(ctx context.Context, db *dynamodb.Client, table string) error {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(name string, kt types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kt}
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str(keystore.HashAttr), str("user_id"), str("created_at"), str("key_id")},
		KeySchema:            []types.KeySchemaElement{key(keystore.HashAttr, types.KeyTypeHash)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			{
				IndexName:  aws.String(keystore.UserIndex),
				KeySchema:  []types.KeySchemaElement{key("user_id", types.KeyTypeHash), key("created_at", types.KeyTypeRange)},
				Projection: all,
			},
			{
				IndexName:  aws.String(keystore.IDIndex),
				KeySchema:  []types.KeySchemaElement{key("key_id", types.KeyTypeHash)},
				Projection: all,
			},
		},
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(db)
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	return nil
}
