// Command webhook delivers registry events to the configured webhook: a rule on the bus feeds an
// SQS queue, whose event source mapping invokes this function with ReportBatchItemFailures
// (SPEC section 7; the retry policy is documented in shared/webhook).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hokusai-protocol/registry-gateway/shared/awsenv"
	"github.com/hokusai-protocol/registry-gateway/shared/config"
	"github.com/hokusai-protocol/registry-gateway/shared/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/webhook"
)

func main() {
	cfg, err := config.Load[webhook.Config](nil)
	log := logging.New(os.Stdout, cfg.LogLevel, "webhook")
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	aws, err := awsenv.Config(nil)
	if err != nil {
		log.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	// Read once per container: a missing secret fails the cold start, not every delivery.
	secret, err := webhook.LoadSecret(ctx, secretsmanager.NewFromConfig(aws), cfg.SecretARN)
	if err != nil {
		log.Error("webhook signing secret", "error", err)
		os.Exit(1)
	}
	lambda.Start(webhook.New(cfg, secret, sqs.NewFromConfig(aws), log).Handle)
}
