// Command health is the Lambda behind GET /health and GET /health/mlflow.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hokusai-protocol/registry-gateway/shared/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/buildinfo"
	"github.com/hokusai-protocol/registry-gateway/shared/health"
	"github.com/hokusai-protocol/registry-gateway/shared/startup"
)

func main() {
	cfg, log := startup.Config[health.Config]("health")
	creds := startup.Upstream(log, cfg.Config)
	lambda.Start(apigw.Handler(health.New(cfg, buildinfo.Version, creds.Client()), log))
}
