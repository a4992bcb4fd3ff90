// Command authorizer is the API Gateway REQUEST authorizer: it validates the request's API key
// and returns the caller's principal and an API-wide Allow policy (SPEC section 4).
package main

import (
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
)

func main() {
	cfg, log := startup.Config[authorizer.Config]("authorizer")
	awsCfg := startup.AWS(log)
	h := authorizer.FromConfig(cfg, dynamodb.NewFromConfig(awsCfg), &http.Client{}, log)
	lambda.Start(h.Handle)
}
