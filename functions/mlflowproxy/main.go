// Command mlflowproxy is the Lambda behind the MLflow mounts (/api/mlflow/*, /mlflow/*,
// /api/2.0/mlflow*/*, /api/3.0/mlflow/*, GET /version, POST /v1/traces). Its routes are STREAM
// integrations, so every response, a 150 MB artifact download as much as a JSON error, goes
// through the streaming adapter.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/hokusai-protocol/registry-gateway/functions/internal/startup"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/eventpub"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/permissionsapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

func main() {
	cfg, log := startup.Config[mlflowproxy.Config]("mlflowproxy")
	aws := startup.AWS(log)
	creds := startup.Upstream(log, cfg.Config)
	// Owners of what users create through MLflow, and the registry changes the bus did not take,
	// in the registrations table (owner and CHANGE# items).
	db := dynamodb.NewFromConfig(aws)
	store := regstore.New(db, cfg.RegistrationsTable)
	var pub mlflowproxy.Publisher
	if cfg.EventBusName != "" {
		pub = eventpub.New(eventbridge.NewFromConfig(aws), cfg.EventBusName)
	}
	// Audit records go to stdout beside the logs, where the log group's subscription filter takes them.
	proxy := mlflowproxy.New(cfg, creds, store, pub, log).WithAudit(audit.NewWriter(os.Stdout, "mlflowproxy"))
	// MLflow's auth REST API (permission grants), answered by the gateway from the permission
	// store in the same table, uncached: it decides on current grants.
	perms := permstore.New(db, cfg.RegistrationsTable)
	proxy.ServeGateway(permissionsapi.New(perms, cfg.Permissions.Policy(), cfg.AdminEmails))
	lambda.Start(apigw.StreamingHandler(creds.Caller(proxy), log))
}
