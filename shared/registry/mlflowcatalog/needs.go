package mlflowcatalog

import "github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"

// needs is the permission each operation on a resource of the registry's needs on that resource
// (its experiment, or its registered model), as MLflow's basic-auth app's validator for the same
// RPC requires it (mlflow/server/auth/__init__.py, BEFORE_REQUEST_HANDLERS): can_read is Read,
// can_update Edit, can_delete and can_manage Manage. A create in an experiment (a run, a logged
// model, a trace) updates the experiment, so it needs Edit there, as in MLflow; creating a model
// version needs Edit on its registered model. TestNeedsMirrorMLflow compares this with the
// installed MLflow's validators. Creating an experiment or a registered model is in creates.
var needs = map[string]permissions.Level{
	// Experiments.
	"GetExperiment":       permissions.Read,
	"GetExperimentByName": permissions.Read,
	"SearchExperiments":   permissions.Read,
	"UpdateExperiment":    permissions.Edit,
	"SetExperimentTag":    permissions.Edit,
	"DeleteExperimentTag": permissions.Edit,
	"DeleteExperiment":    permissions.Manage,
	"RestoreExperiment":   permissions.Manage,

	// The web UI's own routes (ui.go in the proxy), which MLflow's basic-auth app checks by path
	// with the same validators: reading a run's, trace's, logged model's or version's files and
	// metrics needs Read; the UI's upload into a run updates it.
	"ServeArtifacts":              permissions.Read,
	"ServeModelVersionArtifact":   permissions.Read,
	"ServeGetMetricHistoryBulk":   permissions.Read,
	"ServeGetTraceArtifact":       permissions.Read,
	"ServeGetLoggedModelArtifact": permissions.Read,
	"ServeSearchDatasets":         permissions.Read,
	"ServeUploadArtifact":         permissions.Edit,
	// MLflow's GraphQL middleware requires can_read on each experiment and run a query reads.
	"Graphql": permissions.Read,

	// Runs: their experiment's.
	"GetRun":                       permissions.Read,
	"SearchRuns":                   permissions.Read,
	"GetMetricHistory":             permissions.Read,
	"GetMetricHistoryBulkInterval": permissions.Read,
	"ListArtifacts":                permissions.Read, // the tracking and the artifacts service's
	"CreatePresignedDownloadUrl":   permissions.Read,
	"CreateRun":                    permissions.Edit,
	"UpdateRun":                    permissions.Edit,
	"LogMetric":                    permissions.Edit,
	"LogBatch":                     permissions.Edit,
	"LogInputs":                    permissions.Edit,
	"LogOutputs":                   permissions.Edit,
	"LogModel":                     permissions.Edit,
	"LogParam":                     permissions.Edit,
	"SetTag":                       permissions.Edit,
	"DeleteTag":                    permissions.Edit,
	"CreatePresignedUploadUrl":     permissions.Edit,
	"DeleteRun":                    permissions.Manage,
	"RestoreRun":                   permissions.Manage,

	// Logged models: their experiment's.
	"GetLoggedModel":           permissions.Read,
	"SearchLoggedModels":       permissions.Read,
	"ListLoggedModelArtifacts": permissions.Read,
	"CreateLoggedModel":        permissions.Edit,
	"FinalizeLoggedModel":      permissions.Edit,
	"SetLoggedModelTags":       permissions.Edit,
	"LogLoggedModelParams":     permissions.Edit,
	"DeleteLoggedModel":        permissions.Manage,
	"DeleteLoggedModelTag":     permissions.Manage,

	// Traces and their assessments: their experiment's.
	"GetTrace":                        permissions.Read,
	"GetTraceInfo":                    permissions.Read,
	"GetTraceInfoV3":                  permissions.Read,
	"GetOnlineTraceDetails":           permissions.Read,
	"SearchTraces":                    permissions.Read,
	"SearchTracesV3":                  permissions.Read,
	"SearchUnifiedTraceHandler":       permissions.Read,
	"BatchGetTraces":                  permissions.Read,
	"BatchGetTraceInfos":              permissions.Read,
	"CalculateTraceFilterCorrelation": permissions.Read,
	"QueryTraceMetrics":               permissions.Read,
	"GetAssessment":                   permissions.Read,
	"StartTrace":                      permissions.Edit,
	"StartTraceV3":                    permissions.Edit,
	"OTLPExportTraces":                permissions.Edit,
	"EndTrace":                        permissions.Edit,
	"SetTraceTag":                     permissions.Edit,
	"SetTraceTagV3":                   permissions.Edit,
	"DeleteTraceTag":                  permissions.Edit,
	"DeleteTraceTagV3":                permissions.Edit,
	"LinkTracesToRun":                 permissions.Edit, // on the run; the traces are read
	"LinkPromptsToTrace":              permissions.Edit,
	"CreateAssessment":                permissions.Edit,
	"UpdateAssessment":                permissions.Edit,
	"DeleteAssessment":                permissions.Edit, // MLflow: the experiment's update
	"DeleteTraces":                    permissions.Manage,
	"DeleteTracesV3":                  permissions.Manage,

	// The artifacts service: the experiment the artifact path starts with.
	"DownloadArtifact":        permissions.Read,
	"GetPresignedDownloadUrl": permissions.Read,
	"UploadArtifact":          permissions.Edit,
	"CreateMultipartUpload":   permissions.Edit,
	"CompleteMultipartUpload": permissions.Edit,
	"AbortMultipartUpload":    permissions.Edit,
	"DeleteArtifact":          permissions.Manage,

	// Registered models, their versions and aliases: the registered model's.
	"GetRegisteredModel":          permissions.Read,
	"SearchRegisteredModels":      permissions.Read,
	"GetLatestVersions":           permissions.Read,
	"GetModelVersion":             permissions.Read,
	"GetModelVersionByAlias":      permissions.Read,
	"GetModelVersionDownloadUri":  permissions.Read,
	"SearchModelVersions":         permissions.Read,
	"UpdateRegisteredModel":       permissions.Edit,
	"RenameRegisteredModel":       permissions.Edit,
	"SetRegisteredModelTag":       permissions.Edit,
	"DeleteRegisteredModelTag":    permissions.Edit,
	"SetRegisteredModelAlias":     permissions.Edit,
	"CreateModelVersion":          permissions.Edit,
	"UpdateModelVersion":          permissions.Edit,
	"TransitionModelVersionStage": permissions.Edit,
	"SetModelVersionTag":          permissions.Edit,
	"DeleteRegisteredModelAlias":  permissions.Manage,
	"DeleteModelVersionTag":       permissions.Manage,
	"DeleteModelVersion":          permissions.Manage,
	"DeleteRegisteredModel":       permissions.Manage,
}

// creates are the operations that make the experiment or registered model their id names: they
// check Policy.CanCreate, not a level (there is nothing yet to hold one on).
var creates = map[string]bool{"CreateExperiment": true, "CreateRegisteredModel": true}

// withNeeds fills each operation's Needs and Creates.
func withNeeds(ops []Operation) []Operation {
	for i := range ops {
		ops[i].Needs = needs[ops[i].Name]
		ops[i].Creates = creates[ops[i].Name]
	}
	return ops
}
