// Command outbox runs every minute (an EventBridge schedule) and re-publishes the registration
// events that could not be published when the registration was made (SPEC section 7).
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/eventpub"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/outbox"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

func main() {
	cfg, log := startup.Config[outbox.Config]("outbox")
	aws := startup.AWS(log)
	store := regstore.New(dynamodb.NewFromConfig(aws), cfg.RegistrationsTable)
	pub := eventpub.New(eventbridge.NewFromConfig(aws), cfg.EventBusName)
	// The metric line goes to stdout beside the logs: CloudWatch Logs extracts it (EMF).
	lambda.Start(outbox.New(cfg, store, pub, log, os.Stdout).Handle)
}
