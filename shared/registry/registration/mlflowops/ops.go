// Package mlflowops is what a registration does in MLflow, as mlflow.register_model does it: resolve
// the model a registration points at (Resolve), make its registered model and tag its run (Prepare),
// mirror an announced version's metadata tags (Mirror), and turn an MLflow failure into the
// client's answer (FromMLflow), the one place that happens. Creating the version itself stays with
// the handler, which must mark the create as sent first (idempotency).
package mlflowops

import (
	"context"
	"sync"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/modelsource"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
)

// MLflow is the part of the MLflow API a registration uses; *mlflow.Client satisfies it.
type MLflow interface {
	modelsource.MLflow // the resolution's reads
	CreateRegisteredModel(ctx context.Context, name string) error
	CreateModelVersion(ctx context.Context, mv mlflow.NewModelVersion) (*mlflow.ModelVersion, error)
	GetModelVersion(ctx context.Context, name, version string) (*mlflow.ModelVersion, error)
	FindModelVersionsByTag(ctx context.Context, key, value string) ([]mlflow.ModelVersion, error)
	SetModelVersionTag(ctx context.Context, name, version string, tag mlflow.Tag) error
	SetRunTags(ctx context.Context, runID string, tags []mlflow.Tag) error
}

// Ops are the MLflow steps of a registration, each costing the calls its comment says.
type Ops struct {
	MLflow MLflow
}

// Prepare makes what the version needs: its registered model (an existing one is fine) and the
// metadata tags on its run.
func (o Ops) Prepare(ctx context.Context, req rules.RegisterRequest, src Source) error {
	ensureModel := func() error {
		err := o.MLflow.CreateRegisteredModel(ctx, req.ModelName)
		if c := mlflow.Code(err); c == mlflow.ResourceAlreadyExists || c == "ALREADY_EXISTS" {
			return nil
		}
		return FromMLflow(err, nil)
	}
	tagRun := func() error {
		tags := req.Metadata.Tags()
		if len(tags) == 0 || src.RunID == "" {
			return nil
		}
		return FromMLflow(o.MLflow.SetRunTags(ctx, src.RunID, mlflow.Tags(tags, rules.MetadataTags)), RunNotFound(src.RunID))
	}
	return Parallel(ensureModel, tagRun)
}

// Mirror sets the metadata tags on the version (one call per tag it lacks: MLflow has no batch
// form) and on its run (one call), concurrently. A run deleted since is skipped.
func (o Ops) Mirror(ctx context.Context, md rules.Metadata, mv *mlflow.ModelVersion, runID string) error {
	tags := md.Tags()
	if len(tags) == 0 {
		return nil
	}
	have := mlflow.TagMap(mv.Tags)
	var calls []func() error
	for _, t := range mlflow.Tags(tags, rules.MetadataTags) {
		if v, ok := have[t.Key]; ok && v == t.Value {
			continue
		}
		calls = append(calls, func() error {
			return FromMLflow(o.MLflow.SetModelVersionTag(ctx, mv.Name, mv.Version, t), nil)
		})
	}
	if runID != "" {
		calls = append(calls, func() error {
			err := o.MLflow.SetRunTags(ctx, runID, mlflow.Tags(tags, rules.MetadataTags))
			if mlflow.Code(err) == mlflow.ResourceDoesNotExist {
				logging.FromContext(ctx).Info("run of an announced version not found; its tags are not mirrored", "run_id", runID)
				return nil
			}
			return FromMLflow(err, nil)
		})
	}
	return Parallel(calls...)
}

// Parallel runs calls concurrently and returns the first error in their order.
func Parallel(calls ...func() error) error {
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() { errs[i] = call() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
