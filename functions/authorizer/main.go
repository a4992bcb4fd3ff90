// Command authorizer is the API Gateway REQUEST authorizer: it validates the request's API key, or
// on the MLflow UI's routes its session cookie, and returns the caller's principal and an API-wide
// Allow policy (SPEC section 4).
package main

import (
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
)

func main() {
	cfg, log := startup.Config[authorizer.Config]("authorizer")
	awsCfg := startup.AWS(log)
	db := dynamodb.NewFromConfig(awsCfg)
	h := authorizer.FromConfig(cfg, db, &http.Client{}, log)
	if cfg.Sessions() {
		h.EnableSessions(startup.SessionCodec(log, awsCfg, cfg.SessionSecretARN), uisession.NewStore(db, cfg.SessionsTable))
	}
	lambda.Start(h.Handle)
}
