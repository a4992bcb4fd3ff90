package mlflowproxy

import (
	"net/http"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
)

// GatewayOperations answers the catalog's gateway-served operations (mlflowcatalog.Gateway: the
// permission endpoints of MLflow's auth API, package permissionsapi) by their catalog name.
type GatewayOperations interface {
	Operation(name string) (http.Handler, bool)
}

// ServeGateway sets who answers the gateway-served operations. Without it, or for a name it does
// not serve, they are answered ENDPOINT_NOT_FOUND: they are never forwarded to MLflow.
func (h *Handler) ServeGateway(g GatewayOperations) { h.gateway = g }

// serveGateway answers an admitted call locally when its operation is the gateway's own, and
// reports whether it did.
func (h *Handler) serveGateway(w http.ResponseWriter, r *http.Request, ex *exchange) bool {
	op, err := ex.route.Operation(r.Method)
	if err != nil || op.Served != mlflowcatalog.Gateway {
		return false
	}
	if h.gateway != nil {
		if hnd, ok := h.gateway.Operation(op.Name); ok {
			hnd.ServeHTTP(w, r)
			return true
		}
	}
	writeError(w, r, newError(http.StatusNotFound, "ENDPOINT_NOT_FOUND",
		displayPath(r.URL.Path)+" is not served by this deployment of the gateway"))
	return true
}
