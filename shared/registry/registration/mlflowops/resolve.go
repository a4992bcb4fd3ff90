package mlflowops

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
)

// defaultArtifactPath is the model a bare run id refers to (SPEC 5.1).
const defaultArtifactPath = "model"

// Source is what a new model version is created from, as mlflow.register_model creates it.
type Source struct {
	URI     string // the version's source
	RunID   string
	ModelID string // the logged model, "" for a model stored among the run's artifacts
}

// Resolve finds what req's model_uri or mlflow_run_id refers to, as MLflow 3's register_model
// does: runs:/<run>/<path> is the run's logged model named <path> (models:/<model_id>), or,
// for a model logged the MLflow 2 way, the run's artifacts at <path>; models:/<model_id> is that
// logged model.
func (o Ops) Resolve(ctx context.Context, req rules.RegisterRequest) (Source, error) {
	ref := rules.ModelRef{RunID: req.RunID, ArtifactPath: defaultArtifactPath}
	if req.ModelURI != "" {
		ref, _ = rules.ParseModelURI(req.ModelURI) // validated by rules.DecodeRegister
	}
	if ref.ModelID != "" {
		return o.resolveLoggedModel(ctx, ref.ModelID, req.RunID)
	}
	return o.resolveRunModel(ctx, ref.RunID, ref.ArtifactPath)
}

// resolveRunModel costs two calls (the run, then its logged models of that name), and a third,
// the artifact listing, only for a run without such a logged model.
func (o Ops) resolveRunModel(ctx context.Context, runID, artifactPath string) (Source, error) {
	run, err := o.MLflow.GetRun(ctx, runID)
	if err != nil {
		return Source{}, FromMLflow(err, RunNotFound(runID))
	}
	if run.Info.LifecycleStage == "deleted" {
		return Source{}, NotFound(CodeRunNotFound, fmt.Sprintf("MLflow run %s is deleted; restore it or register another run", runID))
	}
	models, err := o.MLflow.FindLoggedModels(ctx, run.Info.ExperimentID, runID, artifactPath)
	if err != nil {
		return Source{}, FromMLflow(err, nil)
	}
	if len(models) > 0 {
		id, err := pickLoggedModel(run, models)
		if err != nil {
			return Source{}, err
		}
		return Source{URI: "models:/" + id, RunID: runID, ModelID: id}, nil
	}
	return o.resolveRunArtifacts(ctx, run, artifactPath)
}

// pickLoggedModel chooses among a run's logged models of one name as register_model does: the
// one logged at the largest step.
func pickLoggedModel(run *mlflow.Run, models []mlflow.LoggedModel) (string, error) {
	if len(models) == 1 {
		return models[0].Info.ModelID, nil
	}
	steps := map[string]int64{}
	for _, o := range run.Outputs.ModelOutputs {
		steps[o.ModelID] = int64(o.Step)
	}
	best, bestStep := "", int64(-1)
	for _, m := range models {
		step, ok := steps[m.Info.ModelID]
		if ok && step > bestStep {
			best, bestStep = m.Info.ModelID, step
		}
	}
	if best == "" {
		return "", httpapi.Validation(httpapi.FieldError{Field: "model_uri", Message: fmt.Sprintf(
			"run %s has %d logged models of this name; register one with model_uri models:/<model_id>", run.Info.RunID, len(models))})
	}
	return best, nil
}

// resolveRunArtifacts accepts a model stored among the run's artifacts (MLflow 2 clients), whose
// Source is then the artifacts' location, as register_model gives it.
func (o Ops) resolveRunArtifacts(ctx context.Context, run *mlflow.Run, artifactPath string) (Source, error) {
	files, err := o.MLflow.ListArtifacts(ctx, run.Info.RunID, artifactPath)
	if err != nil {
		return Source{}, FromMLflow(err, nil)
	}
	for _, f := range files {
		if !f.IsDir && path.Base(f.Path) == "MLmodel" {
			return Source{URI: strings.TrimSuffix(run.Info.ArtifactURI, "/") + "/" + artifactPath, RunID: run.Info.RunID}, nil
		}
	}
	return Source{}, NotFound(CodeLoggedModelNotFound, fmt.Sprintf(
		"MLflow run %s has no logged model named %q; log one with mlflow.<flavor>.log_model(name=%q) or pass model_uri",
		run.Info.RunID, artifactPath, artifactPath))
}

// resolveLoggedModel costs one call. The version's run is the logged model's Source run; a
// client's mlflow_run_id must agree with it.
func (o Ops) resolveLoggedModel(ctx context.Context, modelID, runID string) (Source, error) {
	m, err := o.MLflow.GetLoggedModel(ctx, modelID)
	if err != nil {
		return Source{}, FromMLflow(err, NotFound(CodeLoggedModelNotFound, fmt.Sprintf("MLflow has no logged model %s", modelID)))
	}
	switch src := m.Info.SourceRunID; {
	case src != "" && runID != "" && src != runID:
		return Source{}, httpapi.Validation(httpapi.FieldError{
			Field: "mlflow_run_id", Message: fmt.Sprintf("logged model %s was produced by run %s, not this one", modelID, src)})
	case src != "":
		runID = src
	}
	return Source{URI: "models:/" + modelID, RunID: runID, ModelID: modelID}, nil
}

// RunNotFound is the 404 of a run MLflow does not have.
func RunNotFound(runID string) *httpapi.Error {
	return NotFound(CodeRunNotFound, fmt.Sprintf("MLflow has no run %s", runID))
}
