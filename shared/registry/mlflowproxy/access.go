package mlflowproxy

import (
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

// Access is the level a call needs: its operation's in the catalog (mlflowcatalog; GET and HEAD
// read, SPEC section 4's searches through POST read, the admin groups need admin, every other
// operation writes). It is total: a method the endpoint is not served with is a write (the proxy
// answers it 405 before asking).
func (r Route) Access(method string) principal.Level {
	op, err := r.Operation(method)
	if err != nil {
		return principal.Write
	}
	return op.Access
}
