// Command keys is the Lambda behind POST /api/keys, GET /api/keys and DELETE /api/keys/{key_id},
// and the direct-invocation bootstrap of the first admin key (see keysapi.Handler.Lambda).
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/awsenv"
	"github.com/hokusai-protocol/registry-gateway/shared/config"
	"github.com/hokusai-protocol/registry-gateway/shared/keysapi"
	"github.com/hokusai-protocol/registry-gateway/shared/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/logging"
)

func main() {
	cfg, err := config.Load[keysapi.Config](nil)
	log := logging.New(os.Stdout, cfg.LogLevel, "keys")
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	aws, err := awsenv.Config(nil)
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	store := keystore.New(dynamodb.NewFromConfig(aws), cfg.KeysTable)
	lambda.Start(keysapi.New(cfg, store).Lambda(log))
}
