// Package keystoretest gives tests a keys table in a local moto server, laid out as the stack
// lays it out (infra/stack/data.go), so the store is tested against real DynamoDB semantics.
package keystoretest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hokusai-protocol/registry-gateway/infra/local/services"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/testenv"
)

// DynamoDB starts a moto server for t, stopped when t ends, and returns a client for it. It skips
// t when the repository has no Python virtualenv (.venv at the module root).
func DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	venv, err := venvDir()
	if err != nil {
		testenv.Missing(t, "no Python virtualenv with moto: %v", err)
	}
	moto, err := services.StartMoto(t.Context(), services.MotoOptions{VenvDir: venv, StateDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start moto: %v", err)
	}
	t.Cleanup(func() {
		if err := moto.Stop(); err != nil {
			t.Errorf("stop moto: %v", err)
		}
	})
	cfg := aws.Config{
		Region:       services.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(services.AccessKeyID, services.SecretAccessKey, ""),
		BaseEndpoint: aws.String(moto.URL),
	}
	return dynamodb.NewFromConfig(cfg)
}

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

// venvDir finds .venv beside the module's go.mod, looking up from the test's directory.
func venvDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			venv := filepath.Join(dir, ".venv")
			if _, err := os.Stat(filepath.Join(venv, "bin", "moto_server")); err != nil {
				return "", err
			}
			return venv, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
