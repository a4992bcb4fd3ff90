// Package modelsource finds what a new model version is created from, as MLflow 3's
// mlflow.register_model finds it: runs:/<run>/<path> is the run's logged model named <path>
// (source models:/<model_id>, with model_id and run_id), or, for a model logged the MLflow 2 way,
// the run's artifacts at <path>; models:/<model_id> is that logged model. The registration
// (registration/mlflowops) and the MLflow proxy, which completes the Hokusai SDK's
// model-versions/create, share it, each mapping its errors to its own answers.
package modelsource

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
)

// MLflow is the part of the MLflow API a resolution reads; *mlflow.Client satisfies it.
type MLflow interface {
	GetRun(ctx context.Context, runID string) (*mlflow.Run, error)
	FindLoggedModels(ctx context.Context, experimentID, runID, name string) ([]mlflow.LoggedModel, error)
	GetLoggedModel(ctx context.Context, modelID string) (*mlflow.LoggedModel, error)
	ListArtifacts(ctx context.Context, runID, path string) ([]mlflow.FileInfo, error)
}

// Source is what a new model version is created from, as mlflow.register_model creates it.
type Source struct {
	URI     string // the version's source
	RunID   string
	ModelID string // the logged model, "" for a model stored among the run's artifacts
}

// Missing is what a NotFoundError says is missing.
type Missing int

const (
	MissingRun         Missing = iota + 1 // MLflow has no such run
	DeletedRun                            // the run is deleted
	MissingRunModel                       // the run has no logged model (nor artifacts) at the path
	MissingLoggedModel                    // MLflow has no such logged model
)

// NotFoundError is a run or model that does not exist. Err is MLflow's answer, when it gave one.
type NotFoundError struct {
	Missing      Missing
	ID           string // the run's, or the logged model's
	ArtifactPath string // for MissingRunModel
	Err          error
}

func (e *NotFoundError) Error() string {
	switch e.Missing {
	case DeletedRun:
		return fmt.Sprintf("MLflow run %s is deleted", e.ID)
	case MissingRunModel:
		return fmt.Sprintf("MLflow run %s has no logged model named %q", e.ID, e.ArtifactPath)
	case MissingLoggedModel:
		return "MLflow has no logged model " + e.ID
	}
	return "MLflow has no run " + e.ID
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// AmbiguousError is a run with several logged models of one name, none logged at a step.
type AmbiguousError struct {
	RunID string
	Count int
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("run %s has %d logged models of this name", e.RunID, e.Count)
}

// RunMismatchError is a logged model whose source run is not the run the caller named.
type RunMismatchError struct {
	ModelID, SourceRunID string
}

func (e *RunMismatchError) Error() string {
	return fmt.Sprintf("logged model %s was produced by run %s", e.ModelID, e.SourceRunID)
}

// RunModel resolves runs:/<runID>/<artifactPath>. It costs two calls (the run, then its logged
// models of that name), and a third, the artifact listing, only for a run without such a logged
// model. Any other failure is MLflow's, as package mlflow returns it.
func RunModel(ctx context.Context, m MLflow, runID, artifactPath string) (Source, error) {
	run, err := m.GetRun(ctx, runID)
	if mlflow.Code(err) == mlflow.ResourceDoesNotExist {
		return Source{}, &NotFoundError{Missing: MissingRun, ID: runID, Err: err}
	}
	if err != nil {
		return Source{}, err
	}
	if run.Info.LifecycleStage == "deleted" {
		return Source{}, &NotFoundError{Missing: DeletedRun, ID: runID}
	}
	models, err := m.FindLoggedModels(ctx, run.Info.ExperimentID, runID, artifactPath)
	if err != nil {
		return Source{}, err
	}
	if len(models) > 0 {
		id, err := pickLoggedModel(run, models)
		if err != nil {
			return Source{}, err
		}
		return Source{URI: "models:/" + id, RunID: runID, ModelID: id}, nil
	}
	return runArtifacts(ctx, m, run, artifactPath)
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
		return "", &AmbiguousError{RunID: run.Info.RunID, Count: len(models)}
	}
	return best, nil
}

// runArtifacts accepts a model stored among the run's artifacts (MLflow 2 clients), whose
// Source is then the artifacts' location, as register_model gives it.
func runArtifacts(ctx context.Context, m MLflow, run *mlflow.Run, artifactPath string) (Source, error) {
	files, err := m.ListArtifacts(ctx, run.Info.RunID, artifactPath)
	if err != nil {
		return Source{}, err
	}
	for _, f := range files {
		if !f.IsDir && path.Base(f.Path) == "MLmodel" {
			return Source{URI: strings.TrimSuffix(run.Info.ArtifactURI, "/") + "/" + artifactPath, RunID: run.Info.RunID}, nil
		}
	}
	return Source{}, &NotFoundError{Missing: MissingRunModel, ID: run.Info.RunID, ArtifactPath: artifactPath}
}

// LoggedModel resolves models:/<modelID>, costing one call. The version's run is the logged
// model's source run; a runID the caller names must agree with it.
func LoggedModel(ctx context.Context, m MLflow, modelID, runID string) (Source, error) {
	lm, err := m.GetLoggedModel(ctx, modelID)
	if mlflow.Code(err) == mlflow.ResourceDoesNotExist {
		return Source{}, &NotFoundError{Missing: MissingLoggedModel, ID: modelID, Err: err}
	}
	if err != nil {
		return Source{}, err
	}
	switch src := lm.Info.SourceRunID; {
	case src != "" && runID != "" && src != runID:
		return Source{}, &RunMismatchError{ModelID: modelID, SourceRunID: src}
	case src != "":
		runID = src
	}
	return Source{URI: "models:/" + modelID, RunID: runID, ModelID: modelID}, nil
}
