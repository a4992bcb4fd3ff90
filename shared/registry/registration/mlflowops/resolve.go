package mlflowops

import (
	"context"
	"errors"
	"fmt"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/modelsource"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
)

// defaultArtifactPath is the model a bare run id refers to (SPEC 5.1).
const defaultArtifactPath = "model"

// Source is what a new model version is created from (package modelsource, which the MLflow
// proxy shares).
type Source = modelsource.Source

// Resolve finds what req's model_uri or mlflow_run_id refers to, as MLflow 3's register_model
// does (modelsource): a run's logged model (two calls, a third for a model logged the MLflow 2
// way), or a logged model (one call).
func (o Ops) Resolve(ctx context.Context, req rules.RegisterRequest) (Source, error) {
	ref := rules.ModelRef{RunID: req.RunID, ArtifactPath: defaultArtifactPath}
	if req.ModelURI != "" {
		ref, _ = rules.ParseModelURI(req.ModelURI) // validated by rules.DecodeRegister
	}
	var src Source
	var err error
	if ref.ModelID != "" {
		src, err = modelsource.LoggedModel(ctx, o.MLflow, ref.ModelID, req.RunID)
	} else {
		src, err = modelsource.RunModel(ctx, o.MLflow, ref.RunID, ref.ArtifactPath)
	}
	return src, resolveError(err)
}

// resolveError is the registration's answer to a failed resolution.
func resolveError(err error) error {
	var nf *modelsource.NotFoundError
	var amb *modelsource.AmbiguousError
	var mm *modelsource.RunMismatchError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf):
		var e *httpapi.Error
		switch nf.Missing {
		case modelsource.DeletedRun:
			e = NotFound(CodeRunNotFound, fmt.Sprintf("MLflow run %s is deleted; restore it or register another run", nf.ID))
		case modelsource.MissingRunModel:
			e = NotFound(CodeLoggedModelNotFound, fmt.Sprintf(
				"MLflow run %s has no logged model named %q; log one with mlflow.<flavor>.log_model(name=%q) or pass model_uri",
				nf.ID, nf.ArtifactPath, nf.ArtifactPath))
		case modelsource.MissingLoggedModel:
			e = NotFound(CodeLoggedModelNotFound, fmt.Sprintf("MLflow has no logged model %s", nf.ID))
		default:
			e = RunNotFound(nf.ID)
		}
		if nf.Err != nil {
			e = e.WithCause(nf.Err)
		}
		return e
	case errors.As(err, &amb):
		return httpapi.Validation(httpapi.FieldError{Field: "model_uri", Message: fmt.Sprintf(
			"run %s has %d logged models of this name; register one with model_uri models:/<model_id>", amb.RunID, amb.Count)})
	case errors.As(err, &mm):
		return httpapi.Validation(httpapi.FieldError{
			Field: "mlflow_run_id", Message: fmt.Sprintf("logged model %s was produced by run %s, not this one", mm.ModelID, mm.SourceRunID)})
	}
	return FromMLflow(err, nil)
}

// RunNotFound is the 404 of a run MLflow does not have.
func RunNotFound(runID string) *httpapi.Error {
	return NotFound(CodeRunNotFound, fmt.Sprintf("MLflow has no run %s", runID))
}
