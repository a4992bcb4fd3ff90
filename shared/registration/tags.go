package registration

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

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
// owns it (mlflow.*). Keys are compared as their readers may read them, not byte for byte: trimmed
// of spaces and invisible format characters, and case-folded, the characters that fold into ASCII
// letters (ſ, the Kelvin sign, ı, İ) included. MLflow stores a key as sent, but on a
// case-insensitive database (MySQL's default collations, older ones also ignoring trailing spaces)
// " HOKUSAI_TOKEN_ID" and "hokusai_token_id" are one key, and a subscriber reading event tags may
// fold or trim them too.
func Reserved(key string) bool {
	k := foldKey(key)
	return slices.Contains(systemTags, k) || strings.HasPrefix(k, mlflowTagPrefix)
}

// mlflowTagPrefix starts the tags MLflow itself sets (mlflow.user, mlflow.source.*, …).
const mlflowTagPrefix = "mlflow."

// foldKey is key trimmed and case-folded: upper-casing first sends ſ to S and ı to I, and
// lower-casing then sends the Kelvin sign to k and İ to i, which simple case folding alone misses.
func foldKey(key string) string {
	return strings.ToLower(strings.ToUpper(strings.TrimFunc(key, invisible)))
}

// invisible is what trimming removes from a tag key before it is compared: white space and
// format characters such as the zero-width space.
func invisible(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }

// systemTag reports whether key is exactly one of the keys the registry writes.
func systemTag(key string) bool { return slices.Contains(systemTags, key) }

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
