// Command keys is the Lambda behind POST /api/keys, GET /api/keys and DELETE /api/keys/{key_id},
// and the direct-invocation bootstrap of the first admin key (see keysapi.Handler.Lambda).
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keysapi"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keystore"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
)

func main() {
	cfg, log := startup.Config[keysapi.Config]("keys")
	aws := startup.AWS(log)
	store := keystore.New(dynamodb.NewFromConfig(aws), cfg.KeysTable)
	// Audit records go to stdout, where the log group's subscription filter takes them.
	h := keysapi.New(cfg, store).WithAudit(audit.NewWriter(os.Stdout, "keys"))
	lambda.Start(h.Lambda(log))
}
