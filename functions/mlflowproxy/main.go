// Command mlflowproxy is the Lambda behind the MLflow mounts (/api/mlflow/*, /mlflow/*,
// /api/2.0/mlflow*/*, /api/3.0/mlflow/*). Its route is a STREAM integration, so every response,
// a 150 MB artifact download as much as a JSON error, goes through the streaming adapter.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hokusai-protocol/registry-gateway/shared/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/startup"
)

func main() {
	cfg, log := startup.Config[mlflowproxy.Config]("mlflowproxy")
	ctx := context.Background()
	var secrets mlflowproxy.SecretsAPI
	if cfg.UpstreamSecretARN != "" {
		aws := startup.AWS(log)
		secrets = secretsmanager.NewFromConfig(aws)
	}
	creds, err := mlflowproxy.LoadCredentials(ctx, cfg, secrets)
	if err != nil {
		log.Error("MLflow upstream credentials", "error", err)
		os.Exit(1)
	}
	lambda.Start(apigw.StreamingHandler(mlflowproxy.New(cfg, creds, log), log))
}
