// Command health is the Lambda behind GET /health and GET /health/mlflow.
package main

import (
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hokusai-protocol/registry-gateway/shared/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/buildinfo"
	"github.com/hokusai-protocol/registry-gateway/shared/health"
	"github.com/hokusai-protocol/registry-gateway/shared/startup"
)

func main() {
	cfg, log := startup.Config[health.Config]("health")
	h := health.New(cfg, buildinfo.Version, &http.Client{})
	lambda.Start(apigw.Handler(h, log))
}
