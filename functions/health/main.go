// Command health is the Lambda behind GET /health and GET /health/mlflow.
package main

import (
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hokusai-protocol/registry-gateway/shared/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/buildinfo"
	"github.com/hokusai-protocol/registry-gateway/shared/config"
	"github.com/hokusai-protocol/registry-gateway/shared/health"
	"github.com/hokusai-protocol/registry-gateway/shared/logging"
)

func main() {
	cfg, err := config.Load[health.Config](nil)
	log := logging.New(os.Stdout, cfg.LogLevel, "health")
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	h := health.New(cfg, buildinfo.Version, &http.Client{})
	lambda.Start(apigw.Handler(h, log))
}
