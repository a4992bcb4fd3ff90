package mlflowproxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowcatalog"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowgraphql"
)

// MLflow's GraphQL (POST <mount>/graphql, the catalog's Graphql): the web UI's run page reads its
// run through it. One query may name many resources, so its route alone cannot be judged: package
// mlflowgraphql admits only MLflow's read queries, bounded, and lists every experiment and run
// their inputs name; each must be readable (a run through its experiment, as the REST checks
// resolve it), or the call is MLflow's 403 PERMISSION_DENIED and MLflow is not called. A run's
// modelVersions, which name registered models the input does not, are filtered from the answer
// by each model's permission. Whatever the permissions, a request outside the allowlist is 400.

// graphqlOperation is the catalog's name for it.
const graphqlOperation = "Graphql"

// maxGraphQLAnswer bounds the answer read to filter modelVersions from it. A run page's answer is
// a few kilobytes; a search of runs with many metrics can be more.
const maxGraphQLAnswer = 10 << 20

// checkGraphQL judges a GraphQL request: admission always, permissions when enforcement is on.
func (h *Handler) checkGraphQL(r *http.Request, ex *exchange, op mlflowcatalog.Operation) error {
	body, err := readBody(r, mlflowgraphql.MaxBody)
	if err != nil {
		return err
	}
	judged, err := mlflowgraphql.Judge(body)
	if err != nil {
		return newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", err.Error()).withCause(err)
	}
	e := h.enforce
	if e == nil {
		return nil
	}
	ids := make([]named, 0, len(judged.Refs))
	for _, ref := range judged.Refs {
		kind := idExperiment
		if ref.Kind == mlflowgraphql.Run {
			kind = idRun
		}
		ids = append(ids, named{kind, ref.ID})
	}
	// An id MLflow does not know, it answers as the field's own apiError.
	if err := e.checkEach(r.Context(), ex, op, ex.caller.Caller(h.adminEmails), ids); err != nil {
		return err
	}
	if judged.Filters() {
		ex.graphql = judged
	}
	return nil
}

// filterGraphQL removes from MLflow's successful answer the model versions the caller may not
// read. An answer that cannot be read or judged whole is not relayed: it could list them.
func (h *Handler) filterGraphQL(ex *exchange, res *http.Response) {
	ctx := res.Request.Context()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxGraphQLAnswer+1))
	_ = res.Body.Close()
	var body []byte
	complete := false
	if err == nil && len(raw) <= maxGraphQLAnswer {
		body, complete, err = decodedBody(res, raw, maxGraphQLAnswer)
	}
	if err == nil && !complete {
		err = fmt.Errorf("MLflow's GraphQL answer is over %d bytes", maxGraphQLAnswer)
	}
	caller := ex.caller.Caller(h.adminEmails)
	if err == nil {
		body, err = ex.graphql.FilterAnswer(body, func(model string) (bool, error) {
			r := permissions.Resource{Kind: permissions.RegisteredModel, ID: model}
			facts, err := h.enforce.perms.Facts(ctx, r)
			if err != nil {
				return false, err
			}
			return h.enforce.policy.Effective(caller, r, facts) >= permissions.Read, nil
		})
	}
	if err != nil {
		logging.FromContext(ctx).Warn("GraphQL answer withheld: its model versions could not be judged", "cause", err)
		e := newError(http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "The answer could not be checked against your permissions; retry later")
		body = e.body()
		res.StatusCode = e.status
		res.Header.Set("Content-Type", "application/json")
	}
	res.Header.Del("Content-Encoding")
	res.Header.Del("ETag")
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	res.ContentLength = int64(len(body))
	res.TransferEncoding = nil
	res.Body = io.NopCloser(bytes.NewReader(body))
}
