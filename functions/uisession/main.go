// Command uisession is the Lambda behind sign-in to the MLflow UI: the sign-in page (GET
// <mount>/signin), sessions from a key (POST /api/ui/sessions), one-time sign-in links (POST
// /api/ui/signin-links and their landing, GET <mount>/signin/{token}) and sign-out (POST
// /api/ui/signout). See shared/auth/signin.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/signin"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
)

func main() {
	cfg, log := startup.Config[signin.Config]("uisession")
	aws := startup.AWS(log)
	codec := startup.SessionCodec(log, aws, cfg.SessionSecretARN)
	store := uisession.NewStore(dynamodb.NewFromConfig(aws), cfg.SessionsTable)
	lambda.Start(apigw.Handler(signin.New(cfg, codec, store, nil), log))
}
