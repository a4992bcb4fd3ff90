// Command authorizer is the API Gateway REQUEST authorizer: it validates the request's API key
// and returns the caller's principal and an API-wide Allow policy (SPEC section 4).
package main

import (
	"context"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/config"
	"github.com/hokusai-protocol/registry-gateway/shared/logging"
)

func main() {
	cfg, err := config.Load[authorizer.Config](nil)
	log := logging.New(os.Stdout, cfg.LogLevel, "authorizer")
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	// LoadDefaultConfig honours AWS_ENDPOINT_URL, which points the local harness at moto.
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("AWS configuration", "error", err)
		os.Exit(1)
	}
	h := authorizer.FromConfig(cfg, dynamodb.NewFromConfig(awsCfg), &http.Client{}, log)
	lambda.Start(h.Handle)
}
