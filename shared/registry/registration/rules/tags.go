package rules

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflow"
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

// MetadataTags are the keys of Metadata's tags, in the order they are sent.
var MetadataTags = []string{TagEvalSpec, TagScorerRef, TagPrimaryMetric, TagBenchmarkSpecID}

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

// VersionTags are all the tags of a new version: the registry's, then the client's (which
// validation keeps off the registry's keys).
func VersionTags(req RegisterRequest, registrationID, runID, userID string) []mlflow.Tag {
	sys := registryTags(req.TokenID, req.MetricName, req.BaselineValue, req.ProposalIdentifier, registrationID, runID)
	sys[TagUserID] = userID
	maps.Copy(sys, req.Metadata.Tags())
	tags := mlflow.Tags(sys, systemTags)
	return append(tags, mlflow.Tags(req.Tags, slices.Sorted(maps.Keys(req.Tags)))...)
}

// registryTags are the tags the registry writes on every version it registers or is told of,
// but for user_id and the metadata tags, which the two routes source differently.
func registryTags(tokenID, metric string, baseline float64, proposal, registrationID, runID string) map[string]string {
	sys := map[string]string{
		TagTokenID:            tokenID,
		TagBenchmarkMetric:    metric,
		TagBenchmarkValue:     formatValue(baseline),
		TagStatus:             StatusRegistered,
		TagProposalIdentifier: proposal,
		TagRegistrationID:     registrationID,
	}
	if runID != "" {
		sys[TagRunID] = runID
	}
	return sys
}

// formatValue writes a metric value as MLflow writes numbers in tags: shortest exact form.
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// AnnouncedTags are the values the registry gives its own tags in an announcement of mv (SPEC
// 5.2), by key: the request's fields, the registration's id, the version's run, and for each
// metadata tag the request's field or else the version's own tag. user_id, the owner's, is added
// once the owner is known (the handler's ownAnnouncement).
func AnnouncedTags(req EventRequest, mv *mlflow.ModelVersion, runID, registrationID string) map[string]string {
	sys := registryTags(req.TokenID, req.MetricName, req.BaselineValue, req.ProposalIdentifier, registrationID, runID)
	have := mlflow.TagMap(mv.Tags)
	for _, k := range MetadataTags {
		if v, ok := have[k]; ok {
			sys[k] = v
		}
	}
	maps.Copy(sys, req.Metadata.Tags())
	return sys
}

// CheckSystemTags refuses, naming each, the client's copies of the registry's own tags (sent
// back by the SDK, spelled exactly as the registry writes them: lookalikes were refused when
// decoding) whose value is not the registry's: the registry's values win, and a contradicting
// copy is the client's mistake or a forgery, never a tag of the events. Keys in skip are checked
// later. Values are compared as the registry reads the field they copy: trimmed, token and
// proposal ids without case (token ids are upper-cased), the benchmark value as a number.
func CheckSystemTags(tags, sys map[string]string, skip ...string) error {
	var errs []httpapi.FieldError
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if !systemTag(k) || slices.Contains(skip, k) {
			continue
		}
		want, ok := sys[k]
		switch {
		case !ok:
			errs = append(errs, httpapi.FieldError{Field: "tags." + k,
				Message: "is set by the registry, which has no value for it in this announcement; leave it out"})
		case !sameTagValue(k, tags[k], want):
			errs = append(errs, httpapi.FieldError{Field: "tags." + k,
				Message: fmt.Sprintf("is set by the registry and must be %q here, as the registry writes it, or left out", want)})
		}
	}
	if len(errs) > 0 {
		return httpapi.Validation(errs...)
	}
	return nil
}

func sameTagValue(key, got, want string) bool {
	got = strings.TrimSpace(got)
	switch key {
	case TagTokenID, TagProposalIdentifier:
		return strings.EqualFold(got, want)
	case TagBenchmarkValue:
		g, err1 := strconv.ParseFloat(got, 64)
		w, err2 := strconv.ParseFloat(want, 64)
		return err1 == nil && err2 == nil && g == w
	}
	return got == want
}

// WithSystemTags is tags with each of the registry's own keys among them given the registry's
// value (CheckSystemTags accepted the client's copies as equal to it).
func WithSystemTags(tags, sys map[string]string) map[string]string {
	out := maps.Clone(tags)
	for k := range tags {
		if v, ok := sys[k]; ok && systemTag(k) {
			out[k] = v
		}
	}
	return out
}
