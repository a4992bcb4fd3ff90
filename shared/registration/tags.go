package registration

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/mlflow"
)

// Tags the registry writes on a model version (SPEC 5.1), in the order they are sent.
const (
	TagTokenID            = "hokusai_token_id"
	TagBenchmarkMetric    = "benchmark_metric"
	TagBenchmarkValue     = "benchmark_value"
	TagStatus             = "hokusai_status"
	TagProposalIdentifier = "hokusai_proposal_identifier"
	TagRegistrationID     = "hokusai_registration_id"
	TagRunID              = "mlflow_run_id"
	TagUserID             = "user_id"
	TagEvalSpec           = "hokusai.eval_spec"
	TagScorerRef          = "hokusai.scorer_ref"
	TagPrimaryMetric      = "hokusai.primary_metric"
	TagBenchmarkSpecID    = "hokusai.benchmark_spec_id"
)

// StatusRegistered is the hokusai_status of a registered version, the status of its events and
// of the answers.
const StatusRegistered = events.StatusRegistered

// systemTags are the keys the registry writes; a client may not set them.
var systemTags = []string{
	TagTokenID, TagBenchmarkMetric, TagBenchmarkValue, TagStatus, TagProposalIdentifier,
	TagRegistrationID, TagRunID, TagUserID, TagEvalSpec, TagScorerRef, TagPrimaryMetric, TagBenchmarkSpecID,
}

// metadataTags are the keys of Metadata's tags, in the order they are sent.
var metadataTags = []string{TagEvalSpec, TagScorerRef, TagPrimaryMetric, TagBenchmarkSpecID}

// Reserved reports whether a client may not set the tag key: the registry writes it, or MLflow
// owns it (mlflow.*).
func Reserved(key string) bool {
	return slices.Contains(systemTags, key) || strings.HasPrefix(strings.ToLower(key), "mlflow.")
}

// versionTags are all the tags of a new version: the registry's, then the client's (which
// validation keeps off the registry's keys).
func versionTags(req RegisterRequest, registrationID, runID, userID string) []mlflow.Tag {
	sys := map[string]string{
		TagTokenID:            req.TokenID,
		TagBenchmarkMetric:    req.MetricName,
		TagBenchmarkValue:     formatValue(req.BaselineValue),
		TagStatus:             StatusRegistered,
		TagProposalIdentifier: req.ProposalIdentifier,
		TagRegistrationID:     registrationID,
		TagUserID:             userID,
	}
	if runID != "" {
		sys[TagRunID] = runID
	}
	maps.Copy(sys, req.Metadata.Tags())
	tags := mlflow.Tags(sys, systemTags)
	return append(tags, mlflow.Tags(req.Tags, slices.Sorted(maps.Keys(req.Tags)))...)
}

// formatValue writes a metric value as MLflow writes numbers in tags: shortest exact form.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
