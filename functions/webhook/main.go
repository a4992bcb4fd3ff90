// Command webhook delivers registry events to the configured webhook: a rule on the bus feeds an
// SQS queue, whose event source mapping invokes this function with ReportBatchItemFailures
// (SPEC section 7; the retry policy is documented in shared/delivery/webhook).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/webhook"
)

func main() {
	cfg, log := startup.Config[webhook.Config]("webhook")
	ctx := context.Background()
	aws := startup.AWS(log)
	// Read once per container: a missing secret fails the cold start, not every delivery.
	secret, err := webhook.LoadSecret(ctx, secretsmanager.NewFromConfig(aws), cfg.SecretARN)
	if err != nil {
		log.Error("webhook signing secret", "error", err)
		os.Exit(1)
	}
	lambda.Start(webhook.New(cfg, secret, sqs.NewFromConfig(aws), log).Handle)
}
