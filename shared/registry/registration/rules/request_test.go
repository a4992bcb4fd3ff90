package rules_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules/rulestest"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
)

// fieldsOf returns the fields a 422 names, or fails the test for any other error.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Status != http.StatusUnprocessableEntity {
		t.Fatalf("want a 422, got %v", err)
	}
	var out []string
	for _, f := range he.Detail.([]httpapi.FieldError) {
		out = append(out, f.Field)
	}
	return out
}

func TestDecodeRegisterDefaults(t *testing.T) {
	req, err := rules.DecodeRegister(rulestest.JSONOf(rulestest.ValidRegister, nil))
	if err != nil {
		t.Fatal(err)
	}
	if req.TokenID != "MSG-AI" || req.ModelName != "hokusai-MSG-AI" || req.ProposalIdentifier != "MSG-AI" ||
		req.CurrentValue != 0.1342 || req.RunID != rulestest.ValidRegister["mlflow_run_id"] || req.Tags != nil || req.APISchema != nil {
		t.Errorf("%+v", req)
	}
	req, err = rules.DecodeRegister(rulestest.JSONOf(rulestest.ValidRegister, map[string]any{
		"model_name": "Sales Lead Scoring", "current_value": 0.2, "proposal_identifier": " HIP-7 ",
		"eval_spec": "  s3://specs/eval.yaml ", "scorer_ref": "scorers/v2", "primary_metric": "reply_rate", "benchmark_spec_id": "b-1",
		"contributor_address": "0x" + strings.Repeat("aB", 20), "experiment_name": "exp", "description": "d",
		"api_schema": map[string]any{"type": "object"}, "tags": map[string]string{"team": "growth"},
		"model_uri": "runs:/0123456789abcdef0123456789abcdef/model", "experiment_nam": rulestest.Absent,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if req.ModelName != "Sales Lead Scoring" || req.CurrentValue != 0.2 || req.ProposalIdentifier != "HIP-7" ||
		*req.Metadata.EvalSpec != "s3://specs/eval.yaml" || req.Tags["team"] != "growth" || req.APISchema["type"] != "object" {
		t.Errorf("%+v", req)
	}
	if got := req.Metadata.Tags(); len(got) != 4 || got["hokusai.eval_spec"] != "s3://specs/eval.yaml" {
		t.Errorf("metadata tags %v", got)
	}
	// null is absent.
	req, err = rules.DecodeRegister(rulestest.JSONOf(rulestest.ValidRegister, map[string]any{"current_value": nil, "tags": nil, "eval_spec": nil, "api_schema": nil}))
	if err != nil || req.CurrentValue != req.BaselineValue || req.Metadata.EvalSpec != nil {
		t.Errorf("nulls: %+v %v", req, err)
	}
}

func TestDecodeRegisterRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	manyTags := map[string]string{}
	for i := range rules.MaxTags + 1 {
		manyTags[fmt.Sprint("t", i)] = "v"
	}
	deep := any("leaf")
	for range rules.MaxSchemaNesting {
		deep = map[string]any{"a": deep}
	}
	for _, tc := range []struct {
		name    string
		changes map[string]any
		fields  []string
	}{
		{"token required", map[string]any{"token_id": rulestest.Absent}, []string{"token_id"}},
		{"token charset", map[string]any{"token_id": "MSG_AI"}, []string{"token_id"}},
		{"token leading dash", map[string]any{"token_id": "-AI"}, []string{"token_id"}},
		{"token trailing dash", map[string]any{"token_id": "AI-"}, []string{"token_id"}},
		{"token too long", map[string]any{"token_id": strings.Repeat("A", 65)}, []string{"token_id"}},
		{"token of the wrong type", map[string]any{"token_id": 7}, []string{"token_id"}},
		{"model name with a slash", map[string]any{"model_name": "a/b"}, []string{"model_name"}},
		{"model name with a colon", map[string]any{"model_name": "a:b"}, []string{"model_name"}},
		{"model name blank", map[string]any{"model_name": "  "}, []string{"model_name"}},
		{"model name too long", map[string]any{"model_name": long(257)}, []string{"model_name"}},
		{"model name ..", map[string]any{"model_name": "..x"}, []string{"model_name"}},
		{"no source", map[string]any{"mlflow_run_id": rulestest.Absent}, []string{"model_uri"}},
		{"bad run id", map[string]any{"mlflow_run_id": "abc'; drop"}, []string{"mlflow_run_id"}},
		{"runs URI without a path", map[string]any{"model_uri": "runs:/abc"}, []string{"model_uri"}},
		{"runs URI with a host", map[string]any{"model_uri": "runs://host/abc/model"}, []string{"model_uri"}},
		{"runs URI escaping its run", map[string]any{"model_uri": "runs:/abc/../other/model"}, []string{"model_uri"}},
		{"runs URI with a quote", map[string]any{"model_uri": "runs:/abc/mo'del"}, []string{"model_uri"}},
		{"runs URI of another run", map[string]any{"model_uri": "runs:/other/model"}, []string{"mlflow_run_id"}},
		{"registered model URI", map[string]any{"model_uri": "models:/name/3"}, []string{"model_uri"}},
		{"alias URI", map[string]any{"model_uri": "models:/name@champion"}, []string{"model_uri"}},
		{"storage URI", map[string]any{"model_uri": "s3://bucket/model"}, []string{"model_uri"}},
		{"metric required", map[string]any{"metric_name": rulestest.Absent}, []string{"metric_name"}},
		{"metric upper case", map[string]any{"metric_name": "Accuracy"}, []string{"metric_name"}},
		{"metric two prefixes", map[string]any{"metric_name": "a:b:c"}, []string{"metric_name"}},
		{"metric empty segment", map[string]any{"metric_name": "acc..top"}, []string{"metric_name"}},
		{"baseline required", map[string]any{"baseline_value": rulestest.Absent}, []string{"baseline_value"}},
		{"baseline a string", map[string]any{"baseline_value": "0.5"}, []string{"baseline_value"}},
		{"current a bool", map[string]any{"current_value": true}, []string{"current_value"}},
		{"proposal blank", map[string]any{"proposal_identifier": " "}, []string{"proposal_identifier"}},
		{"metadata blank", map[string]any{"eval_spec": "   "}, []string{"eval_spec"}},
		{"metadata too long", map[string]any{"scorer_ref": long(501)}, []string{"scorer_ref"}},
		{"metadata of the wrong type", map[string]any{"primary_metric": 1}, []string{"primary_metric"}},
		{"metadata at the cap", map[string]any{"benchmark_spec_id": long(500)}, nil},
		{"contributor address", map[string]any{"contributor_address": "0x123"}, []string{"contributor_address"}},
		{"experiment too long", map[string]any{"experiment_name": long(501)}, []string{"experiment_name"}},
		{"description too long", map[string]any{"description": long(5001)}, []string{"description"}},
		{"description at the cap", map[string]any{"description": long(5000)}, nil},
		{"schema not an object", map[string]any{"api_schema": []int{1}}, []string{"api_schema"}},
		{"schema too large", map[string]any{"api_schema": map[string]string{"a": long(32 << 10)}}, []string{"api_schema"}},
		{"schema too deep", map[string]any{"api_schema": map[string]any{"a": deep}}, []string{"api_schema"}},
		{"schema at the depth cap", map[string]any{"api_schema": deep}, nil},
		{"too many tags", map[string]any{"tags": manyTags}, []string{"tags"}},
		{"tag key too long", map[string]any{"tags": map[string]string{long(251): "v"}}, []string{"tags." + long(64) + "…"}},
		{"tag value too long", map[string]any{"tags": map[string]string{"k": long(5001)}}, []string{"tags.k"}},
		{"tag value not a string", map[string]any{"tags": map[string]any{"k": 1}}, []string{"tags"}},
		{"tag key MLflow refuses", map[string]any{"tags": map[string]string{"a*b": "v"}}, []string{"tags.a*b"}},
		{"system tag", map[string]any{"tags": map[string]string{"hokusai_token_id": "X"}}, []string{"tags.hokusai_token_id"}},
		{"system metadata tag", map[string]any{"tags": map[string]string{"hokusai.eval_spec": "X"}}, []string{"tags.hokusai.eval_spec"}},
		{"user_id tag", map[string]any{"tags": map[string]string{"user_id": "someone"}}, []string{"tags.user_id"}},
		{"mlflow tag", map[string]any{"tags": map[string]string{"mlflow.user": "x"}}, []string{"tags.mlflow.user"}},
		{"mlflow tag in other case", map[string]any{"tags": map[string]string{"MLflow.note": "x"}}, []string{"tags.MLflow.note"}},
		{"unknown member", map[string]any{"model_type": "x"}, []string{"model_type"}},
		{"member in another case", map[string]any{"Token_ID": "x"}, []string{"Token_ID"}},
		{"everything wrong at once", map[string]any{"token_id": "", "metric_name": 1, "baseline_value": rulestest.Absent, "extra": 1},
			[]string{"metric_name", "token_id", "baseline_value", "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rules.DecodeRegister(rulestest.JSONOf(rulestest.ValidRegister, tc.changes))
			if tc.fields == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := fieldsOf(t, err); strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

func TestDecodeRegisterSyntax(t *testing.T) {
	for _, tc := range []struct {
		body   string
		status int
	}{
		{"", 400}, {"{", 400}, {`{"a":1} {}`, 400}, {"[]", 422}, {`"x"`, 422}, {"null", 422},
		{`{"token_id":"A","mlflow_run_id":"r","metric_name":"m","baseline_value":1e400}`, 422},
	} {
		_, err := rules.DecodeRegister([]byte(tc.body))
		if got := httpapi.StatusOf(err).Status; got != tc.status {
			t.Errorf("%q: %d, want %d (%v)", tc.body, got, tc.status, err)
		}
	}
}

func TestDecodeEvent(t *testing.T) {
	// The body the SDK sends (build_registration_event_payload), plus members it may add.
	req, err := rules.DecodeEvent(rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"sdk_version": "1.4", "contributor_address": "nope"}))
	if err != nil {
		t.Fatal(err)
	}
	if req.TokenID != "HLEAD" || req.Version != "7" || req.CurrentValue != 0.1342 || req.Tags["hokusai_token_id"] != "HLEAD" {
		t.Errorf("%+v", req)
	}
	req, err = rules.DecodeEvent(rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"mlflow_run_id": rulestest.Absent, "proposal_identifier": rulestest.Absent,
		"model_uri": rulestest.Absent, "model_name": " spaced ", "eval_spec": " e "}))
	if err != nil || req.RunID != "" || req.ProposalIdentifier != "HLEAD" || req.ModelName != "spaced" || *req.Metadata.EvalSpec != "e" {
		t.Errorf("%+v %v", req, err)
	}
	for _, tc := range []struct {
		name    string
		changes map[string]any
		fields  []string
	}{
		{"model name required", map[string]any{"model_name": rulestest.Absent}, []string{"model_name"}},
		{"model name blank", map[string]any{"model_name": " "}, []string{"model_name"}},
		{"version required", map[string]any{"version": rulestest.Absent}, []string{"version"}},
		{"version a number", map[string]any{"version": 7}, []string{"version"}},
		{"version not a number", map[string]any{"version": "latest"}, []string{"version"}},
		{"token blank", map[string]any{"token_id": ""}, []string{"token_id"}},
		{"metric blank", map[string]any{"metric_name": " "}, []string{"metric_name"}},
		{"baseline missing", map[string]any{"baseline_value": rulestest.Absent}, []string{"baseline_value"}},
		{"run id blank", map[string]any{"mlflow_run_id": " "}, []string{"mlflow_run_id"}},
		{"metadata too long", map[string]any{"eval_spec": strings.Repeat("x", 501)}, []string{"eval_spec"}},
		{"tags over the cap", map[string]any{"tags": map[string]string{"k": strings.Repeat("x", 5001)}}, []string{"tags.k"}},
		{"schema not an object", map[string]any{"api_schema": "x"}, []string{"api_schema"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rules.DecodeEvent(rulestest.JSONOf(rulestest.ValidEvent, tc.changes))
			if got := fieldsOf(t, err); strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

var (
	tokenRule  = regexp.MustCompile(`^[A-Z0-9](?:[A-Z0-9-]{0,62}[A-Z0-9])?$`)
	metricRule = regexp.MustCompile(`^([a-z]+:)?[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)
)

// FuzzRegisterRequest: the decoder never panics, answers 400 or 422 for what it refuses, and
// whatever it accepts satisfies every rule of SPEC 5.1.
func FuzzRegisterRequest(f *testing.F) {
	f.Add(string(rulestest.JSONOf(rulestest.ValidRegister, nil)))
	f.Add(string(rulestest.JSONOf(rulestest.ValidRegister, map[string]any{"tags": map[string]string{"mlflow.x": "y"}, "api_schema": map[string]any{"a": []any{1, "b"}}})))
	f.Add(`{"token_id":"a","model_uri":"models:/m-1","metric_name":"a.b","baseline_value":-0,"current_value":1e308}`)
	f.Add(`{"token_id":"\u0000","model_name":"\ud800","baseline_value":null}`)
	f.Add(`[{"token_id":1}]`)
	f.Add(string(rulestest.JSONOf(rulestest.ValidRegister, map[string]any{"tags": map[string]string{" hokusai_token_id": "x", "MLflow.source": "y"}})))
	f.Add(string(rulestest.JSONOf(rulestest.ValidRegister, map[string]any{"tags": map[string]string{"HOKUSAI_STATUS ": "x", "​mlflow.user": "y"}})))
	f.Fuzz(func(t *testing.T, body string) {
		req, err := rules.DecodeRegister([]byte(body))
		if err != nil {
			if s := httpapi.StatusOf(err).Status; s != 400 && s != 422 {
				t.Fatalf("status %d for %q", s, body)
			}
			return
		}
		switch {
		case !tokenRule.MatchString(req.TokenID):
			t.Fatalf("token %q", req.TokenID)
		case req.ModelName == "" || utf8.RuneCountInString(req.ModelName) > rules.MaxModelName || strings.ContainsAny(req.ModelName, "/:"):
			t.Fatalf("model name %q", req.ModelName)
		case req.ModelURI == "" && req.RunID == "":
			t.Fatal("no source")
		case !metricRule.MatchString(req.MetricName):
			t.Fatalf("metric %q", req.MetricName)
		case math.IsNaN(req.BaselineValue) || math.IsInf(req.BaselineValue, 0) || math.IsNaN(req.CurrentValue) || math.IsInf(req.CurrentValue, 0):
			t.Fatal("non-finite value")
		case strings.TrimSpace(req.ProposalIdentifier) == "":
			t.Fatal("blank proposal")
		case len(req.Tags) > rules.MaxTags:
			t.Fatalf("%d tags", len(req.Tags))
		}
		for k, v := range req.Tags {
			if imitatesReserved(k) || rules.Reserved(k) || utf8.RuneCountInString(k) > rules.MaxTagKey || utf8.RuneCountInString(v) > rules.MaxTagValue {
				t.Fatalf("tag %q=%q", k, v)
			}
		}
		for _, m := range []*string{req.Metadata.EvalSpec, req.Metadata.ScorerRef, req.Metadata.PrimaryMetric, req.Metadata.BenchmarkSpecID} {
			if m != nil && (strings.TrimSpace(*m) != *m || *m == "" || utf8.RuneCountInString(*m) > rules.MaxMetadata) {
				t.Fatalf("metadata %q", *m)
			}
		}
		if req.APISchema != nil {
			if b, _ := json.Marshal(req.APISchema); len(b) > rules.MaxAPISchema {
				t.Fatalf("schema of %d bytes", len(b))
			}
		}
	})
}

// FuzzRegistrationEventRequest: the same for the SDK's event body, whose unknown members are
// ignored.
func FuzzRegistrationEventRequest(f *testing.F) {
	f.Add(string(rulestest.JSONOf(rulestest.ValidEvent, nil)))
	f.Add(string(rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"version": "0", "extra": []int{1}})))
	f.Add(`{"model_name":" ","version":"1","token_id":"x","metric_name":"m","baseline_value":1}`)
	f.Add(string(rulestest.JSONOf(rulestest.ValidEvent, map[string]any{"tags": map[string]string{"hokusai_token_id": "HLEAD", " mlflow.user": "x", "USER_ID": "y"}})))
	f.Fuzz(func(t *testing.T, body string) {
		req, err := rules.DecodeEvent([]byte(body))
		if err != nil {
			if s := httpapi.StatusOf(err).Status; s != 400 && s != 422 {
				t.Fatalf("status %d for %q", s, body)
			}
			return
		}
		switch {
		case strings.TrimSpace(req.ModelName) == "" || strings.TrimSpace(req.MetricName) == "":
			t.Fatalf("blank required field: %+v", req)
		case !regexp.MustCompile(`^[1-9][0-9]{0,9}$`).MatchString(req.Version):
			t.Fatalf("version %q", req.Version)
		case !tokenRule.MatchString(req.TokenID):
			t.Fatalf("token %q", req.TokenID)
		case math.IsNaN(req.BaselineValue) || math.IsInf(req.BaselineValue, 0) || math.IsInf(req.CurrentValue, 0):
			t.Fatal("non-finite value")
		case len(req.Tags) > rules.MaxTags:
			t.Fatalf("%d tags", len(req.Tags))
		}
		for k := range req.Tags {
			if imitatesReserved(k) && !slices.Contains(systemTagKeys, k) {
				t.Fatalf("tag %q imitates a reserved one", k)
			}
		}
	})
}

// systemTagKeys are the tags SPEC 5.1 has the registry write.
var systemTagKeys = []string{"hokusai_token_id", "benchmark_metric", "benchmark_value", "hokusai_status",
	"hokusai_proposal_identifier", "hokusai_registration_id", "mlflow_run_id", "user_id",
	"hokusai.eval_spec", "hokusai.scorer_ref", "hokusai.primary_metric", "hokusai.benchmark_spec_id"}

// imitatesReserved is the fuzz targets' own oracle, written apart from the code under test: the
// key trimmed of spaces and format characters, the non-ASCII characters that fold into ASCII
// letters replaced by those letters, ASCII-lower-cased, is a system tag or starts with mlflow.
func imitatesReserved(k string) bool {
	k = strings.TrimFunc(k, func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) })
	k = strings.NewReplacer("\u017F", "s", "\u212A", "k", "\u0131", "i", "\u0130", "i").Replace(k)
	var b strings.Builder
	for _, r := range k {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	k = b.String()
	return slices.Contains(systemTagKeys, k) || strings.HasPrefix(k, "mlflow.")
}

// Reserved keys are compared as a case-insensitive database or a subscriber may read them:
// trimmed and case-folded, on both routes. The event route accepts the registry's own keys only
// as the registry spells them (the SDK sends them back).
func TestReservedTagsCannotBeImitated(t *testing.T) {
	for _, tc := range []struct {
		key            string
		register, sent bool // refused by each route
	}{
		{" hokusai_token_id", true, true},
		{"HOKUSAI_TOKEN_ID", true, true},
		{"hokusai_token_id ", true, true},
		{"User_ID", true, true},
		{"\u200bhokusai_registration_id", true, true},
		{"hoku\u017Fai_status", true, true},   // ſ folds to s
		{"hokusa\u0131_token_id", true, true}, // dotless i
		{" mlflow.user", true, true},
		{"MLflow.source", true, true},
		{"mlflow.", true, true},
		{"mlflow.\u212A", true, true},
		{"\u212Amlflow.x", true, false}, // a Kelvin sign before: not the prefix (register: not ASCII)
		{"hokusai_token_id", true, false},
		{"mlflow_run_id", true, false},
		{"team", false, false},
		{"mlflowish", false, false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			tags := map[string]any{"tags": map[string]string{tc.key: "v"}}
			_, err := rules.DecodeRegister(rulestest.JSONOf(rulestest.ValidRegister, tags))
			if got := err != nil; got != tc.register {
				t.Errorf("register: refused %v, want %v (%v)", got, tc.register, err)
			}
			if err != nil && fieldsOf(t, err)[0] != "tags."+tc.key {
				t.Errorf("register names %v", fieldsOf(t, err))
			}
			_, err = rules.DecodeEvent(rulestest.JSONOf(rulestest.ValidEvent, tags))
			if got := err != nil; got != tc.sent {
				t.Errorf("event: refused %v, want %v (%v)", got, tc.sent, err)
			}
			if err != nil && fieldsOf(t, err)[0] != "tags."+tc.key {
				t.Errorf("event names %v", fieldsOf(t, err))
			}
		})
	}
}
