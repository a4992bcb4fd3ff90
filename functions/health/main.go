// Command health is the Lambda behind GET /health and GET /health/mlflow.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/buildinfo"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/health"
)

func main() {
	cfg, log := startup.Config[health.Config]("health")
	lambda.Start(apigw.Handler(health.Load(cfg, buildinfo.Version, startup.Secrets(log, cfg.Config), log), log))
}
