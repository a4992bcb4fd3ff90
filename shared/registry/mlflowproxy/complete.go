package mlflowproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apigw"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/modelsource"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/modeluri"
)

// Completing the Hokusai SDK's model-versions/create (issue 12, item 1). The SDK creates a version
// with source runs:/<run>/<path> and neither run_id nor model_id, which MLflow 2 accepted and
// MLflow 3 refuses (INVALID_PARAMETER_VALUE); even with run_id, such a version does not load,
// because MLflow 3 keeps the model's files with the run's logged model. The stock client's
// mlflow.register_model resolves the URI itself and sends source models:/<model_id>, model_id and
// run_id. So the proxy does the same for exactly that request, with the registration's own
// resolution (modelsource), and relays every other request untouched.

// completeBodyLimit bounds how much of a model-versions/create body is read to judge it: MLflow's
// are a few kilobytes (a name, a source, tags, a description). A longer body is relayed unread,
// as it came.
const completeBodyLimit = 1 << 20

// completes reports whether r is a call whose body the proxy may complete.
func completes(route Route, r *http.Request) bool {
	return route.Service == ServiceTracking && route.Version == "2.0" && route.Endpoint == "model-versions/create" &&
		r.Method == http.MethodPost && r.Body != nil && r.Body != http.NoBody
}

// completeVersion replaces r's body by the completed one when it needs completing (versionSource);
// any other body is put back as it came. An *apiError answers a runs:/ source that does not
// resolve.
func (h *Handler) completeVersion(ctx context.Context, r *http.Request) error {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil // an encoded body is relayed for MLflow to judge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, completeBodyLimit+1))
	if err != nil || len(body) > completeBodyLimit {
		rest := r.Body
		if err != nil {
			rest = io.NopCloser(failedReader{err})
		}
		r.Body = &joinedBody{Reader: io.MultiReader(bytes.NewReader(body), rest), Closer: r.Body}
		return nil
	}
	_ = r.Body.Close()
	fields, ref, ok, perr := versionSource(body)
	if !ok {
		r.Body = io.NopCloser(bytes.NewReader(body))
		return perr
	}
	src, err := modelsource.RunModel(ctx, h.sources, ref.RunID, ref.ArtifactPath)
	if err != nil {
		return resolveError(ctx, err)
	}
	for k, v := range map[string]string{"source": src.URI, "run_id": src.RunID, "model_id": src.ModelID} {
		if v != "" {
			fields[k], _ = json.Marshal(v)
		}
	}
	completed, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("encode the completed model-versions/create: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(completed))
	r.ContentLength = int64(len(completed))
	r.Header.Del("Content-Length")
	return nil
}

// versionSource decides whether a model-versions/create body needs completing: a JSON object
// whose source is a runs:/ URI and that names neither run_id nor model_id. It reads the body as
// MLflow does: Python's json (exact member names, the last of a repeated one), then protobuf's
// JSON parsing, which also accepts the camelCase names runId and modelId, and takes an empty
// string or null for an absent id. ok is false for every body to relay as it came; perr is the
// 400 of a runs:/ source that is not runs:/<run_id>/<path>.
func versionSource(body []byte) (fields map[string]json.RawMessage, ref modeluri.Ref, ok bool, perr error) {
	if !utf8.Valid(body) || json.Unmarshal(body, &fields) != nil || fields == nil {
		return nil, ref, false, nil
	}
	var source string
	if json.Unmarshal(fields["source"], &source) != nil {
		return nil, ref, false, nil
	}
	// urlparse, which MLflow reads the source with, folds the scheme's case.
	if len(source) < len("runs:") || !strings.EqualFold(source[:len("runs:")], "runs:") {
		return nil, ref, false, nil
	}
	for _, name := range []string{"run_id", "runId", "model_id", "modelId"} {
		raw, present := fields[name]
		var s string
		if present && !(string(bytes.TrimSpace(raw)) == "null" || json.Unmarshal(raw, &s) == nil && s == "") {
			return nil, ref, false, nil // MLflow judges a source with an id itself
		}
		delete(fields, name)
	}
	ref, err := modeluri.ParseRuns("runs:" + source[len("runs:"):])
	if err != nil {
		return nil, ref, false, newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
			"Invalid model version source: "+err.Error()).withCause(err)
	}
	return fields, ref, true, nil
}

// resolveError answers a runs:/ source that did not resolve in MLflow's shape, with none of
// MLflow's own text.
func resolveError(ctx context.Context, err error) error {
	var nf *modelsource.NotFoundError
	var amb *modelsource.AmbiguousError
	var ae *mlflow.APIError
	switch {
	case errors.As(err, &nf):
		msg := nf.Error()
		if nf.Missing == modelsource.MissingRunModel {
			msg += fmt.Sprintf("; log one with mlflow.<flavor>.log_model(name=%q)", nf.ArtifactPath)
		}
		return newError(http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", msg).withCause(err)
	case errors.As(err, &amb):
		return newError(http.StatusBadRequest, "INVALID_PARAMETER_VALUE", amb.Error()+
			"; register one with source models:/<model_id> and its model_id").withCause(err)
	case errors.Is(err, mlflow.ErrTimeout), errors.Is(context.Cause(ctx), errHeaderTimeout):
		return newError(http.StatusGatewayTimeout, "TIMEOUT", "MLflow did not answer in time").withCause(err)
	case errors.Is(err, mlflow.ErrUnavailable):
		return newError(http.StatusBadGateway, "BAD_GATEWAY", "MLflow is unreachable; retry later").withCause(err)
	case errors.As(err, &ae) && ae.Status < http.StatusInternalServerError && ae.Code != "":
		// Refused for a reason of the caller's (its credentials in forward mode, a bad id).
		return newError(ae.Status, ae.Code, fmt.Sprintf("MLflow refused %s while resolving the version's source", ae.Op)).withCause(err)
	}
	return internalError(http.StatusBadGateway, apigw.RequestID(ctx)).withCause(err)
}
