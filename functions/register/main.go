// Command register is the Lambda behind POST /api/models/register, POST
// /api/models/tokenized-registration-events and GET /api/registrations/{registration_id}.
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
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

func main() {
	cfg, log := startup.Config[registration.Config]("register")
	aws := startup.AWS(log)
	creds := startup.Upstream(log, cfg.Config)
	db := dynamodb.NewFromConfig(aws)
	deps := registration.Deps{
		MLflow:        mlflow.New(cfg.MLflowURL, cfg.MLflowTimeout, creds.Client()),
		Store:         regstore.New(db, cfg.RegistrationsTable),
		AdminEmails:   cfg.AdminEmails,
		MLflowTimeout: cfg.MLflowTimeout,
		// Audit records go to stdout, where the log group's subscription filter takes them.
		Audit: audit.NewWriter(os.Stdout, "register"),
		// Grants on registered models, in the same table, cached for PERMISSIONS_CACHE_TTL.
		Permissions: permstore.NewCached(permstore.New(db, cfg.RegistrationsTable), cfg.Permissions.CacheTTL, permstore.DefaultCacheEntries),
		Policy:      cfg.Permissions.Policy(),
	}
	// Without a bus, every event is recorded pending and left to the outbox function.
	if cfg.EventBusName != "" {
		deps.Publisher = eventpub.New(eventbridge.NewFromConfig(aws), cfg.EventBusName)
	}
	// Caller: in forward mode, MLflow sees the caller's own Authorization on the calls made for it.
	lambda.Start(apigw.Handler(creds.Caller(registration.New(deps)), log))
}
