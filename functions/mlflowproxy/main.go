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
	"github.com/hokusai-protocol/registry-gateway/shared/auth/signin"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/eventpub"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/permissionsapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/searchfilter"
)

// permissionsCacheSize bounds the resources whose permission facts one container keeps.
const permissionsCacheSize = 10000

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
	h := mlflowproxy.New(cfg, creds, store, pub, log).WithAudit(audit.NewWriter(os.Stdout, "mlflowproxy"))
	// Audit records go to stdout beside the logs, where the log group's subscription filter takes them.
	perms := permstore.New(db, cfg.RegistrationsTable)
	var grants permissionsapi.Store = perms
	if !cfg.PermissionsOff {
		// Per-resource permissions, in the same table: facts cached for PERMISSIONS_CACHE_TTL.
		cached := permstore.NewCached(perms, cfg.Permissions.CacheTTL, permissionsCacheSize)
		h.WithPermissions(mlflowproxy.PermissionStore{Cached: cached, Owners: perms}, cfg.Permissions.Policy(), nil)
		// Searches answer only what the caller may read, in full pages.
		h.FilterSearches(searchfilter.PolicyPermissions{Policy: cfg.Permissions.Policy(), Facts: cached})
		// A grant changed here is enforced here at once; other containers within the TTL.
		grants = permissionsapi.Forgetting{Store: perms, Forget: cached.Forget, ForgetAll: cached.ForgetAll}
	}
	// MLflow's auth REST API (permission grants), answered by the gateway from the permission
	// store, uncached: it decides on current grants.
	h.ServeGateway(permissionsapi.New(grants, cfg.Permissions.Policy(), cfg.AdminEmails))
	// A UI session's writes must come from the gateway's own pages (signin.Guard).
	lambda.Start(apigw.StreamingHandler(signin.Guard(creds.Caller(h)), log))
}
