// Command audit is the destination of the CloudWatch Logs subscription filters on the emitting
// functions' log groups: it writes the audit records they carry into the audit log group
// (shared/platform/audit/ship), off the request path.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit/ship"
)

func main() {
	cfg, log := startup.Config[ship.Config]("audit")
	aws := startup.AWS(log)
	lambda.Start(ship.New(cloudwatchlogs.NewFromConfig(aws), cfg.LogGroup, log).Handle)
}
