package mlflowcatalog

import "github.com/hokusai-protocol/registry-gateway/shared/auth/principal"

// Server is who answers an operation.
type Server int

// Servers. The zero value is MLflow, which the proxy forwards the call to.
const (
	MLflow Server = iota
	// Gateway operations are answered by the gateway itself and never forwarded: the routes of
	// MLflow's basic-auth app (mlflow.server.auth, its own route table, not the tracking
	// server's), over the gateway's permission store (package permissionsapi).
	Gateway
)

func (s Server) String() string {
	if s == Gateway {
		return "gateway"
	}
	return "mlflow"
}

// gatewayOperations are the basic-auth app's routes, served by the gateway. Reading a permission
// needs read scope and changing one write scope, and then MANAGE on the resource (permissionsapi
// checks it). User and role management is Hokusai's: those routes are served to say so, to any key.
//
// The experiments/permissions/* and registered-models/permissions/* routes are MLflow 2's auth
// API; MLflow 3.17's auth app no longer has them (its client grants through users/permissions/*),
// but MLflow 2 clients and scripts call them (TestCatalogCoversTheInstalledMLflow knows them as
// legacy2).
var gatewayOperations = []Operation{
	{Name: "GrantUserPermission", Service: Tracking, Method: "POST", Endpoint: "users/permissions/grant", Versions: v("3.0"), Access: principal.Write, Served: Gateway, IDs: ids(b("resource_type"), b("resource_id"), b("username"))},
	{Name: "RevokeUserPermission", Service: Tracking, Method: "POST", Endpoint: "users/permissions/revoke", Versions: v("3.0"), Access: principal.Write, Served: Gateway, IDs: ids(b("resource_type"), b("resource_id"), b("username"))},
	{Name: "GetUserPermission", Service: Tracking, Method: "GET", Endpoint: "users/permissions/get", Versions: v("3.0"), Access: principal.Read, Served: Gateway, IDs: ids(q("resource_type"), q("resource_id"), q("username"))},
	{Name: "ListUserPermissions", Service: Tracking, Method: "GET", Endpoint: "users/permissions/list", Versions: v("3.0"), Access: principal.Read, Served: Gateway, IDs: ids(q("username"))},
	{Name: "ListCurrentUserPermissions", Service: Tracking, Method: "GET", Endpoint: "users/current/permissions", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "GetCurrentUser", Service: Tracking, Method: "GET", Endpoint: "users/current", Versions: v("2.0"), Access: principal.Read, Served: Gateway},

	{Name: "CreateExperimentPermission", Service: Tracking, Method: "POST", Endpoint: "experiments/permissions/create", Versions: v("2.0"), Access: principal.Write, Resource: Experiment, Served: Gateway, IDs: ids(b("experiment_id"), b("username"))},
	{Name: "GetExperimentPermission", Service: Tracking, Method: "GET", Endpoint: "experiments/permissions/get", Versions: v("2.0"), Access: principal.Read, Resource: Experiment, Served: Gateway, IDs: ids(q("experiment_id"), q("username"))},
	{Name: "UpdateExperimentPermission", Service: Tracking, Method: "PATCH", Endpoint: "experiments/permissions/update", Versions: v("2.0"), Access: principal.Write, Resource: Experiment, Served: Gateway, IDs: ids(b("experiment_id"), b("username"))},
	{Name: "DeleteExperimentPermission", Service: Tracking, Method: "DELETE", Endpoint: "experiments/permissions/delete", Versions: v("2.0"), Access: principal.Write, Resource: Experiment, Served: Gateway, IDs: ids(b("experiment_id"), b("username"))},
	{Name: "CreateRegisteredModelPermission", Service: Tracking, Method: "POST", Endpoint: "registered-models/permissions/create", Versions: v("2.0"), Access: principal.Write, Resource: RegisteredModel, Served: Gateway, IDs: ids(b("name"), b("username"))},
	{Name: "GetRegisteredModelPermission", Service: Tracking, Method: "GET", Endpoint: "registered-models/permissions/get", Versions: v("2.0"), Access: principal.Read, Resource: RegisteredModel, Served: Gateway, IDs: ids(q("name"), q("username"))},
	{Name: "UpdateRegisteredModelPermission", Service: Tracking, Method: "PATCH", Endpoint: "registered-models/permissions/update", Versions: v("2.0"), Access: principal.Write, Resource: RegisteredModel, Served: Gateway, IDs: ids(b("name"), b("username"))},
	{Name: "DeleteRegisteredModelPermission", Service: Tracking, Method: "DELETE", Endpoint: "registered-models/permissions/delete", Versions: v("2.0"), Access: principal.Write, Resource: RegisteredModel, Served: Gateway, IDs: ids(b("name"), b("username"))},

	// Hokusai's, not MLflow's: answered ENDPOINT_NOT_FOUND with where it is done.
	{Name: "CreateUser", Service: Tracking, Method: "POST", Endpoint: "users/create", Versions: v("2.0"), Access: principal.Read, Served: Gateway},
	{Name: "GetUser", Service: Tracking, Method: "GET", Endpoint: "users/get", Versions: v("2.0"), Access: principal.Read, Served: Gateway},
	{Name: "ListUsers", Service: Tracking, Method: "GET", Endpoint: "users/list", Versions: v("2.0"), Access: principal.Read, Served: Gateway},
	{Name: "UpdateUserPassword", Service: Tracking, Method: "PATCH", Endpoint: "users/update-password", Versions: v("2.0"), Access: principal.Read, Served: Gateway},
	{Name: "UpdateUserAdmin", Service: Tracking, Method: "PATCH", Endpoint: "users/update-admin", Versions: v("2.0"), Access: principal.Read, Served: Gateway},
	{Name: "DeleteUser", Service: Tracking, Method: "DELETE", Endpoint: "users/delete", Versions: v("2.0"), Access: principal.Read, Served: Gateway},
	{Name: "CreateRole", Service: Tracking, Method: "POST", Endpoint: "roles/create", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "GetRole", Service: Tracking, Method: "GET", Endpoint: "roles/get", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "ListRoles", Service: Tracking, Method: "GET", Endpoint: "roles/list", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "UpdateRole", Service: Tracking, Method: "PATCH", Endpoint: "roles/update", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "DeleteRole", Service: Tracking, Method: "DELETE", Endpoint: "roles/delete", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "AddRolePermission", Service: Tracking, Method: "POST", Endpoint: "roles/permissions/add", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "RemoveRolePermission", Service: Tracking, Method: "DELETE", Endpoint: "roles/permissions/remove", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "ListRolePermissions", Service: Tracking, Method: "GET", Endpoint: "roles/permissions/list", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "UpdateRolePermission", Service: Tracking, Method: "PATCH", Endpoint: "roles/permissions/update", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "AssignRole", Service: Tracking, Method: "POST", Endpoint: "roles/assign", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "UnassignRole", Service: Tracking, Method: "DELETE", Endpoint: "roles/unassign", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "ListUserRoles", Service: Tracking, Method: "GET", Endpoint: "users/roles/list", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
	{Name: "ListRoleUsers", Service: Tracking, Method: "GET", Endpoint: "roles/users/list", Versions: v("3.0"), Access: principal.Read, Served: Gateway},
}
