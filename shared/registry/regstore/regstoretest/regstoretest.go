// Package regstoretest gives tests a registrations table laid out as the stack lays it out
// (infra/stack/data.go), in a DynamoDB such as testenv.AWS's moto server.
package regstoretest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// NewStore creates a registrations table with a name unique to t in db and returns a store over it.
func NewStore(t testing.TB, db *dynamodb.Client) *regstore.Store {
	t.Helper()
	table := fmt.Sprintf("registrations-%d", time.Now().UnixNano())
	if err := CreateTable(t.Context(), db, table); err != nil {
		t.Fatal(err)
	}
	return regstore.New(db, table)
}

// CreateTable creates the registrations table (partition key pk, the sparse pending_events index
// projecting all attributes, the CDK default) and waits until it is active.
func CreateTable(ctx context.Context, db *dynamodb.Client, table string) error {
	attr := func(name string, t types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: t}
	}
	key := func(name string, kt types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: kt}
	}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			attr(regstore.PKAttr, types.ScalarAttributeTypeS),
			attr(regstore.OutboxStatusAttr, types.ScalarAttributeTypeS),
			attr(regstore.NextAttemptAttr, types.ScalarAttributeTypeN),
		},
		KeySchema: []types.KeySchemaElement{key(regstore.PKAttr, types.KeyTypeHash)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(regstore.OutboxIndex),
			KeySchema: []types.KeySchemaElement{
				key(regstore.OutboxStatusAttr, types.KeyTypeHash), key(regstore.NextAttemptAttr, types.KeyTypeRange),
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
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
