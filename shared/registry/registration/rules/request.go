// Package rules is what a registration must satisfy before anything is called: the decoding and
// validation of both routes' bodies (SPEC 5.1, 5.2), the tags the registry reserves and writes, and
// whether a model is ready to deploy (SPEC 5.3). It calls nothing: no MLflow, no table, no HTTP.
package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/jsonbody"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/modeluri"
)

// Caps on what a registration may carry (SPEC 5.1). Lengths are in characters.
const (
	MaxTokenID       = 64
	MaxModelName     = 256
	MaxMetadata      = 500 // eval_spec, scorer_ref, primary_metric, benchmark_spec_id
	MaxExperiment    = 500
	MaxDescription   = 5000
	MaxProposalID    = 500
	MaxMetricName    = 250
	MaxModelURI      = modeluri.MaxLength
	MaxAPISchema     = 32 << 10 // bytes, serialized
	MaxSchemaNesting = 20
	MaxTags          = 50
	MaxTagKey        = 250
	MaxTagValue      = 5000
	MaxVersionDigits = 10
)

var (
	tokenPattern   = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?$`)
	metricPattern  = regexp.MustCompile(`^([a-z]+:)?[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)
	addressPattern = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
	// tagKeyPattern is MLflow's rule for tag keys (alphanumerics, _ - . space / :).
	tagKeyPattern  = regexp.MustCompile(`^[\w.\- /:]+$`)
	versionPattern = regexp.MustCompile(`^[1-9][0-9]*$`)
)

// Metadata is the optional evaluation metadata a registration carries, mirrored as tags on the
// model version and its run.
type Metadata struct {
	EvalSpec        *string
	ScorerRef       *string
	PrimaryMetric   *string
	BenchmarkSpecID *string
}

func (m *Metadata) fields() []jsonbody.Field {
	return []jsonbody.Field{
		{Name: "eval_spec", Into: &m.EvalSpec, Want: "a string"},
		{Name: "scorer_ref", Into: &m.ScorerRef, Want: "a string"},
		{Name: "primary_metric", Into: &m.PrimaryMetric, Want: "a string"},
		{Name: "benchmark_spec_id", Into: &m.BenchmarkSpecID, Want: "a string"},
	}
}

// Tags is the metadata as MLflow tags, in a fixed order; absent fields are left out.
func (m Metadata) Tags() map[string]string {
	out := map[string]string{}
	for _, f := range []struct {
		key string
		v   *string
	}{{TagEvalSpec, m.EvalSpec}, {TagScorerRef, m.ScorerRef}, {TagPrimaryMetric, m.PrimaryMetric}, {TagBenchmarkSpecID, m.BenchmarkSpecID}} {
		if f.v != nil {
			out[f.key] = *f.v
		}
	}
	return out
}

// validate trims each present field and checks it is non-blank and within MaxMetadata.
func (m *Metadata) validate(add func(field, msg string)) {
	for _, f := range []struct {
		name string
		v    **string
	}{{"eval_spec", &m.EvalSpec}, {"scorer_ref", &m.ScorerRef}, {"primary_metric", &m.PrimaryMetric}, {"benchmark_spec_id", &m.BenchmarkSpecID}} {
		if *f.v == nil {
			continue
		}
		s := strings.TrimSpace(**f.v)
		*f.v = &s
		if msg := checkText(s, MaxMetadata, true); msg != "" {
			add(f.name, msg)
		}
	}
}

// RegisterRequest is a validated POST /api/models/register body, defaults applied.
type RegisterRequest struct {
	TokenID            string // upper-cased
	ModelName          string
	ModelURI           string
	RunID              string
	MetricName         string
	BaselineValue      float64
	CurrentValue       float64
	ProposalIdentifier string
	Metadata           Metadata
	ContributorAddress *string
	ExperimentName     *string
	Description        string
	APISchema          map[string]any
	Tags               map[string]string
}

// registerBody is the body as sent: pointers tell absent (or null) from empty.
type registerBody struct {
	TokenID, ModelName, ModelURI, RunID, MetricName, ProposalIdentifier *string
	BaselineValue, CurrentValue                                         *float64
	Metadata                                                            Metadata
	ContributorAddress, ExperimentName, Description                     *string
	APISchema                                                           json.RawMessage
	Tags                                                                map[string]string
}

func (b *registerBody) fields() []jsonbody.Field {
	return append([]jsonbody.Field{
		{Name: "token_id", Into: &b.TokenID, Want: "a string"},
		{Name: "model_name", Into: &b.ModelName, Want: "a string"},
		{Name: "model_uri", Into: &b.ModelURI, Want: "a string"},
		{Name: "mlflow_run_id", Into: &b.RunID, Want: "a string"},
		{Name: "metric_name", Into: &b.MetricName, Want: "a string"},
		{Name: "baseline_value", Into: &b.BaselineValue, Want: "a finite number"},
		{Name: "current_value", Into: &b.CurrentValue, Want: "a finite number"},
		{Name: "proposal_identifier", Into: &b.ProposalIdentifier, Want: "a string"},
		{Name: "contributor_address", Into: &b.ContributorAddress, Want: "a string"},
		{Name: "experiment_name", Into: &b.ExperimentName, Want: "a string"},
		{Name: "description", Into: &b.Description, Want: "a string"},
		{Name: "api_schema", Into: &b.APISchema, Want: "a JSON object"},
		{Name: "tags", Into: &b.Tags, Want: "an object of string values"},
	}, b.Metadata.fields()...)
}

// DecodeRegister parses and validates a register body: a syntax error is a 400, anything else
// wrong a 422 listing every offending field. Unknown members are rejected.
func DecodeRegister(body []byte) (RegisterRequest, error) {
	var b registerBody
	errs, err := jsonbody.DecodeObject(body, b.fields(), true)
	if err != nil {
		return RegisterRequest{}, err
	}
	req, rules := b.validate()
	if errs = jsonbody.Merge(errs, rules); len(errs) > 0 {
		return RegisterRequest{}, httpapi.Validation(errs...)
	}
	return req, nil
}

func (b *registerBody) validate() (RegisterRequest, []httpapi.FieldError) {
	var errs []httpapi.FieldError
	add := func(f, msg string) { errs = append(errs, httpapi.FieldError{Field: f, Message: msg}) }
	var req RegisterRequest

	req.TokenID = checkToken(b.TokenID, add)
	req.ModelName = "hokusai-" + req.TokenID
	if b.ModelName != nil {
		req.ModelName = *b.ModelName
		if msg := checkModelName(req.ModelName); msg != "" {
			add("model_name", msg)
		}
	}
	req.ModelURI, req.RunID = deref(b.ModelURI), deref(b.RunID)
	checkSource(req.ModelURI, req.RunID, add)
	req.MetricName = deref(b.MetricName)
	switch {
	case b.MetricName == nil:
		add("metric_name", "is required")
	case utf8.RuneCountInString(req.MetricName) > MaxMetricName || !metricPattern.MatchString(req.MetricName):
		add("metric_name", fmt.Sprintf("must be a metric name such as accuracy or sales:reply_rate "+
			"(lower case, digits, _ and ., an optional category: prefix; at most %d characters)", MaxMetricName))
	}
	req.BaselineValue, req.CurrentValue = checkValues(b.BaselineValue, b.CurrentValue, add)
	req.ProposalIdentifier = req.TokenID
	if b.ProposalIdentifier != nil {
		req.ProposalIdentifier = strings.TrimSpace(*b.ProposalIdentifier)
		if msg := checkText(req.ProposalIdentifier, MaxProposalID, true); msg != "" {
			add("proposal_identifier", msg)
		}
	}
	b.Metadata.validate(add)
	req.Metadata = b.Metadata
	if a := b.ContributorAddress; a != nil && !addressPattern.MatchString(*a) {
		add("contributor_address", "must be an Ethereum address: 0x followed by 40 hexadecimal digits")
	}
	req.ContributorAddress = b.ContributorAddress
	if e := b.ExperimentName; e != nil {
		if msg := checkText(*e, MaxExperiment, false); msg != "" {
			add("experiment_name", msg)
		}
	}
	req.ExperimentName = b.ExperimentName
	req.Description = deref(b.Description)
	if msg := checkText(req.Description, MaxDescription, false); msg != "" {
		add("description", msg)
	}
	req.APISchema = checkSchema(b.APISchema, add)
	req.Tags = checkTags(b.Tags, true, add)
	return req, errs
}

// EventRequest is a validated POST /api/models/tokenized-registration-events body.
type EventRequest struct {
	ModelName          string
	Version            string
	TokenID            string // upper-cased
	MetricName         string
	BaselineValue      float64
	CurrentValue       float64
	ProposalIdentifier string
	RunID              string // "" when absent: taken from the model version
	ModelURI           string // "" when absent: models:/<name>/<version>
	Metadata           Metadata
	APISchema          map[string]any
	Tags               map[string]string
}

type eventBody struct {
	ModelName, Version, TokenID, MetricName, ProposalIdentifier, RunID, ModelURI *string
	BaselineValue, CurrentValue                                                  *float64
	Metadata                                                                     Metadata
	APISchema                                                                    json.RawMessage
	Tags                                                                         map[string]string
}

func (b *eventBody) fields() []jsonbody.Field {
	return append([]jsonbody.Field{
		{Name: "model_name", Into: &b.ModelName, Want: "a string"},
		{Name: "version", Into: &b.Version, Want: "a string"},
		{Name: "token_id", Into: &b.TokenID, Want: "a string"},
		{Name: "metric_name", Into: &b.MetricName, Want: "a string"},
		{Name: "baseline_value", Into: &b.BaselineValue, Want: "a finite number"},
		{Name: "current_value", Into: &b.CurrentValue, Want: "a finite number"},
		{Name: "proposal_identifier", Into: &b.ProposalIdentifier, Want: "a string"},
		{Name: "mlflow_run_id", Into: &b.RunID, Want: "a string"},
		{Name: "model_uri", Into: &b.ModelURI, Want: "a string"},
		{Name: "api_schema", Into: &b.APISchema, Want: "a JSON object"},
		{Name: "tags", Into: &b.Tags, Want: "an object of string values"},
	}, b.Metadata.fields()...)
}

// DecodeEvent parses and validates a tokenized-registration-event body. Unknown members are
// ignored: the Hokusai SDK sends what it has, and older or newer SDKs must keep working.
func DecodeEvent(body []byte) (EventRequest, error) {
	var b eventBody
	errs, err := jsonbody.DecodeObject(body, b.fields(), false)
	if err != nil {
		return EventRequest{}, err
	}
	req, rules := b.validate()
	if errs = jsonbody.Merge(errs, rules); len(errs) > 0 {
		return EventRequest{}, httpapi.Validation(errs...)
	}
	return req, nil
}

func (b *eventBody) validate() (EventRequest, []httpapi.FieldError) {
	var errs []httpapi.FieldError
	add := func(f, msg string) { errs = append(errs, httpapi.FieldError{Field: f, Message: msg}) }
	var req EventRequest
	required := func(name string, v *string, limit int) string {
		if v == nil {
			add(name, "is required")
			return ""
		}
		s := strings.TrimSpace(*v)
		if msg := checkText(s, limit, true); msg != "" {
			add(name, msg)
		}
		return s
	}
	req.ModelName = required("model_name", b.ModelName, MaxModelName)
	if b.Version == nil {
		add("version", "is required")
	} else if req.Version = strings.TrimSpace(*b.Version); len(req.Version) > MaxVersionDigits || !versionPattern.MatchString(req.Version) {
		add("version", "must be a model version number such as \"3\"")
	}
	req.TokenID = checkToken(b.TokenID, add)
	req.MetricName = required("metric_name", b.MetricName, MaxMetricName)
	req.BaselineValue, req.CurrentValue = checkValues(b.BaselineValue, b.CurrentValue, add)
	req.ProposalIdentifier = req.TokenID
	if b.ProposalIdentifier != nil {
		req.ProposalIdentifier = required("proposal_identifier", b.ProposalIdentifier, MaxProposalID)
	}
	if b.RunID != nil {
		req.RunID = strings.TrimSpace(*b.RunID)
		if !modeluri.ValidRunID(req.RunID) {
			add("mlflow_run_id", "must be an MLflow run id (letters, digits, _ and -)")
		}
	}
	if b.ModelURI != nil {
		req.ModelURI = required("model_uri", b.ModelURI, MaxModelURI)
	}
	b.Metadata.validate(add)
	req.Metadata = b.Metadata
	req.APISchema = checkSchema(b.APISchema, add)
	// The SDK sends back the tags it set on the version, ours included: the caps apply, and no
	// key may imitate a reserved one.
	req.Tags = checkTags(b.Tags, false, add)
	return req, errs
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkToken validates token_id and returns it upper-cased.
func checkToken(v *string, add func(string, string)) string {
	if v == nil {
		add("token_id", "is required")
		return ""
	}
	t := strings.TrimSpace(*v)
	if !tokenPattern.MatchString(t) {
		add("token_id", fmt.Sprintf("must be 1 to %d letters, digits or '-', not starting or ending with '-'", MaxTokenID))
		return ""
	}
	return strings.ToUpper(t)
}

// checkValues validates baseline_value (required) and current_value (default: the baseline).
func checkValues(baseline, current *float64, add func(string, string)) (float64, float64) {
	var b, c float64
	switch {
	case baseline == nil:
		add("baseline_value", "is required")
	case !finite(*baseline):
		add("baseline_value", "must be a finite number")
	default:
		b = *baseline
	}
	c = b
	if current != nil {
		if !finite(*current) {
			add("current_value", "must be a finite number")
		}
		c = *current
	}
	return b, c
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// checkText checks a free-text value: at most limit characters, no NUL, and non-blank when
// nonBlank. It returns the message for the client, or "".
func checkText(s string, limit int, nonBlank bool) string {
	switch {
	case nonBlank && strings.TrimSpace(s) == "":
		return "must not be blank"
	case utf8.RuneCountInString(s) > limit:
		return fmt.Sprintf("must be at most %d characters", limit)
	case strings.ContainsRune(s, 0):
		return "must not contain NUL characters"
	}
	return ""
}

// checkModelName applies MLflow's rules for registered model names, which also keep the name
// usable in models:/<name>/<version> and in model_id.
func checkModelName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "must not be blank"
	case utf8.RuneCountInString(name) > MaxModelName:
		return fmt.Sprintf("must be at most %d characters", MaxModelName)
	case strings.ContainsAny(name, "/:"):
		return "must not contain '/' or ':'"
	case strings.TrimSpace(name) != name:
		return "must not start or end with spaces"
	case strings.ContainsFunc(name, unicode.IsControl):
		return "must not contain control characters"
	case name == "." || strings.HasPrefix(name, ".."):
		return "must not be '.' or start with '..'"
	}
	return ""
}

// checkSource checks model_uri and mlflow_run_id: at least one, each well formed, and naming
// the same run when both do.
func checkSource(uri, runID string, add func(string, string)) {
	if runID != "" && !modeluri.ValidRunID(runID) {
		add("mlflow_run_id", "must be an MLflow run id (letters, digits, _ and -)")
	}
	if uri == "" {
		if runID == "" {
			add("model_uri", "model_uri or mlflow_run_id is required")
		}
		return
	}
	src, msg := ParseModelURI(uri)
	if msg != "" {
		add("model_uri", msg)
		return
	}
	if src.RunID != "" && runID != "" && src.RunID != runID {
		add("mlflow_run_id", "names a different run than model_uri")
	}
}

// ModelRef is what a model URI points at: a run's model path, or a logged model.
type ModelRef = modeluri.Ref

// ParseModelURI parses the model URIs a registration accepts, as MLflow parses them; the message
// is for the client when the URI is not one of them.
func ParseModelURI(uri string) (ModelRef, string) {
	ref, err := modeluri.Parse(uri)
	if err != nil {
		return ModelRef{}, err.Error()
	}
	return ref, ""
}

// checkSchema validates api_schema: a JSON object of at most MaxAPISchema bytes serialized and
// MaxSchemaNesting levels deep. It returns the decoded object (nil when absent).
func checkSchema(raw json.RawMessage, add func(string, string)) map[string]any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if bytes.TrimSpace(raw)[0] != '{' {
		add("api_schema", "must be a JSON object")
		return nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		add("api_schema", "must be a JSON object")
		return nil
	}
	if compact.Len() > MaxAPISchema {
		add("api_schema", fmt.Sprintf("must serialize to at most %d KB; publish a larger schema as an MLflow artifact and refer to it", MaxAPISchema>>10))
		return nil
	}
	if depth(compact.Bytes()) > MaxSchemaNesting {
		add("api_schema", fmt.Sprintf("must nest at most %d levels deep", MaxSchemaNesting))
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(compact.Bytes(), &m); err != nil {
		add("api_schema", "must be a JSON object of finite numbers")
		return nil
	}
	return m
}

// depth is the deepest nesting of objects and arrays in a valid JSON value.
func depth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	level, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return deepest
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				level++
				deepest = max(deepest, level)
			} else {
				level--
			}
		}
	}
}

// checkTags validates the client's tags. strict also refuses tags the system writes and mlflow.*
// tags, in any spelling, and keys MLflow would refuse (the register route writes the client's
// tags itself); otherwise only exact copies of the system's keys pass among the reserved ones.
func checkTags(tags map[string]string, strict bool, add func(string, string)) map[string]string {
	if len(tags) > MaxTags {
		add("tags", fmt.Sprintf("must have at most %d entries", MaxTags))
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		// A key that is a pasted API key must not come back verbatim.
		name := "tags." + logging.Redacted(jsonbody.Truncate(k, 64))
		switch {
		case utf8.RuneCountInString(k) > MaxTagKey:
			add(name, fmt.Sprintf("tag keys must be at most %d characters", MaxTagKey))
		case utf8.RuneCountInString(v) > MaxTagValue:
			add(name, fmt.Sprintf("tag values must be at most %d characters", MaxTagValue))
		case strings.ContainsRune(v, 0):
			add(name, "tag values must not contain NUL characters")
		case !strict && Reserved(k) && !systemTag(k):
			// The SDK sends back the registry's own tags, spelled as the registry wrote them;
			// anything else that reads as a reserved key imitates one.
			add(name, "imitates a tag the registry or MLflow sets (compared without case and surrounding spaces); "+
				"send the registry's tags exactly as it wrote them, and no mlflow.* tag")
		case !strict:
		case !tagKeyPattern.MatchString(k) || path.Clean(k) != k || strings.HasPrefix(k, "..") || strings.HasPrefix(k, "/"):
			add(name, "tag keys may only hold letters, digits, _ - . space / : and must be a plain relative name")
		case Reserved(k):
			add(name, "is set by the registry or MLflow (compared without case and surrounding spaces) and cannot be set by a client")
		}
	}
	return tags
}
