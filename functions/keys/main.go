// Command keys is the Lambda behind POST /api/keys, GET /api/keys and DELETE /api/keys/{key_id},
// and the direct-invocation bootstrap of the first admin key (see keysapi.Handler.Lambda).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keysapi"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
)

func main() {
	cfg, log := startup.Config[keysapi.Config]("keys")
	aws := startup.AWS(log)
	store := keystore.New(dynamodb.NewFromConfig(aws), cfg.KeysTable)
	lambda.Start(keysapi.New(cfg, store).Lambda(log))
}
