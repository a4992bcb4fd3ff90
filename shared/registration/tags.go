package registration

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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
// owns it (mlflow.*). Keys are compared as their readers may read them, not byte for byte: after
// trimming spaces and invisible format characters, and with Unicode case folding. MLflow stores a
// key as sent, but on a case-insensitive database (MySQL's default collations, which also ignore
// trailing spaces in older ones) " HOKUSAI_TOKEN_ID" and "hokusai_token_id" are one key, and a
// subscriber reading event tags may well fold or trim them too.
func Reserved(key string) bool {
	k := strings.TrimFunc(key, invisible)
	return slices.ContainsFunc(systemTags, func(s string) bool { return strings.EqualFold(k, s) }) ||
		hasPrefixFold(k, mlflowTagPrefix)
}

// mlflowTagPrefix starts the tags MLflow itself sets (mlflow.user, mlflow.source.*, …).
const mlflowTagPrefix = "mlflow."

// invisible is what trimming removes from a tag key before it is compared: white space and
// format characters such as the zero-width space.
func invisible(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) }

// hasPrefixFold is strings.HasPrefix under Unicode case folding (simple folding maps one character
// to one, so the prefix has as many characters in s as in prefix).
func hasPrefixFold(s, prefix string) bool {
	n, end := utf8.RuneCountInString(prefix), len(s)
	count := 0
	for i := range s {
		if count == n {
			end = i
			break
		}
		count++
	}
	return count == n && strings.EqualFold(s[:end], prefix)
}

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
