// Command authorizer is the API Gateway REQUEST authorizer: it validates the request's API key
// and returns the caller's principal and an API-wide Allow policy (SPEC section 4).
package main

import (
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/shared/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/awsenv"
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
	awsCfg, err := awsenv.Config(nil)
	if err != nil {
		log.Error("AWS configuration", "error", err)
		os.Exit(1)
	}
	h := authorizer.FromConfig(cfg, dynamodb.NewFromConfig(awsCfg), &http.Client{}, log)
	lambda.Start(h.Handle)
}
