package events_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/events/eventschema"
)

func ptr[T any](v T) *T { return &v }

// full is a detail with every optional field set, as a registration would pass it to NewDetail.
func full() events.Detail {
	return events.Detail{
		ModelID: "hokusai-XRAY/3/XRAY", TokenSymbol: "XRAY", MetricName: "accuracy",
		BaselineValue: 0.82, CurrentValue: 0.87, ModelName: "hokusai-XRAY", ModelVersion: "3",
		MLflowRunID: "9f6c2e1d4b7a4c0e8d3f5a6b7c8d9e0f", ProposalIdentifier: "XRAY",
		ImprovementPercentage: ptr(6.1), ContributorAddress: ptr("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
		ExperimentName: ptr("xray"), Tags: map[string]string{"team": "vision"},
		APISchema: map[string]any{"input": map[string]any{"type": "object"}},
		EvalSpec:  ptr("evals/x.yaml"), ScorerRef: ptr("scorers/acc"), PrimaryMetric: ptr("accuracy"),
		BenchmarkSpecID: ptr("bench-1"), Timestamp: "2026-01-15T12:30:00.5+02:00",
		UserID: "user-1", KeyID: "key-1", RegistrationID: "reg-1",
	}
}

func TestExamplesMatchTheContract(t *testing.T) {
	for _, dt := range events.DetailTypes {
		t.Run(dt, func(t *testing.T) {
			raw := events.Example(dt)
			var ev events.Event
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("example does not decode into events.Event: %v", err)
			}
			if ev.Source != events.Source || ev.DetailType != dt {
				t.Errorf("source %q detail-type %q", ev.Source, ev.DetailType)
			}
			var envelope struct{ Detail json.RawMessage }
			if err := json.Unmarshal(raw, &envelope); err != nil {
				t.Fatal(err)
			}
			if err := eventschema.Validate(dt, envelope.Detail); err != nil {
				t.Errorf("example detail rejected: %v", err)
			}
			d := ev.Detail
			if want := events.EventID(dt, d.ModelID, d.MLflowRunID, d.ModelVersion); d.EventID != want {
				t.Errorf("event_id %s, want %s", d.EventID, want)
			}
		})
	}
}

func TestBuiltDetailsMatchTheSchemas(t *testing.T) {
	minimal := events.Detail{
		ModelID: "m/1/TOK", TokenSymbol: "TOK", MetricName: "custom:latency.p99", BaselineValue: 0,
		CurrentValue: -1.5, ModelName: "m", ModelVersion: "1", ProposalIdentifier: "TOK",
		Timestamp: events.Timestamp(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), UserID: "u", RegistrationID: "r",
	}
	for name, d := range map[string]events.Detail{"every field": full(), "only required fields, no run, no key id": minimal} {
		for _, dt := range events.DetailTypes {
			t.Run(name+"/"+dt, func(t *testing.T) {
				built := events.NewDetail(dt, d)
				js, err := events.MarshalDetail(built)
				if err != nil {
					t.Fatal(err)
				}
				if err := eventschema.Validate(dt, []byte(js)); err != nil {
					t.Fatalf("built detail rejected: %v\n%s", err, js)
				}
				if built.EventID != events.EventID(dt, d.ModelID, d.MLflowRunID, d.ModelVersion) {
					t.Errorf("event_id %s not derived from the registration", built.EventID)
				}
				if built.ModelURI != "models:/"+d.ModelName+"/"+d.ModelVersion {
					t.Errorf("model_uri %q", built.ModelURI)
				}
			})
		}
	}
}

func TestNewDetail(t *testing.T) {
	d := full()
	reg, ready := events.NewDetail(events.ModelRegistered, d), events.NewDetail(events.ModelReadyToDeploy, d)
	if reg.EventID == ready.EventID {
		t.Error("both detail types share an event id")
	}
	if again := events.NewDetail(events.ModelRegistered, d); again.EventID != reg.EventID {
		t.Error("event id is not deterministic")
	}
	if reg.Timestamp != "2026-01-15T10:30:00.5Z" {
		t.Errorf("timestamp %q not normalised to UTC", reg.Timestamp)
	}
	d.ModelURI = "runs:/abc/model"
	if got := events.NewDetail(events.ModelRegistered, d).ModelURI; got != d.ModelURI {
		t.Errorf("given model_uri replaced by %q", got)
	}
	var m map[string]any
	js, _ := events.MarshalDetail(events.NewDetail(events.ModelRegistered, events.Detail{}))
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	if tags, ok := m["tags"].(map[string]any); !ok || len(tags) != 0 {
		t.Errorf("tags = %v, want {}", m["tags"])
	}
}

// invalid are mutations of a valid detail the schemas must reject.
var invalid = []struct {
	name   string
	mutate func(map[string]any)
}{
	{"missing event_id", func(m map[string]any) { delete(m, "event_id") }},
	{"missing nullable field", func(m map[string]any) { delete(m, "eval_spec") }},
	{"unknown field", func(m map[string]any) { m["surprise"] = 1 }},
	{"status other than registered", func(m map[string]any) { m["status"] = "ready" }},
	{"message_version 2.0", func(m map[string]any) { m["message_version"] = "2.0" }},
	{"event_id not a uuid", func(m map[string]any) { m["event_id"] = "evt-1" }},
	{"timestamp not a date-time", func(m map[string]any) { m["timestamp"] = "15 Jan 2026" }},
	{"timestamp not UTC", func(m map[string]any) { m["timestamp"] = "2026-01-15T10:30:00+02:00" }},
	{"contributor_address malformed", func(m map[string]any) { m["contributor_address"] = "0x123" }},
	{"baseline_value a string", func(m map[string]any) { m["baseline_value"] = "0.8" }},
	{"baseline_value null", func(m map[string]any) { m["baseline_value"] = nil }},
	{"tag value a number", func(m map[string]any) { m["tags"] = map[string]any{"n": 1} }},
	{"tags null", func(m map[string]any) { m["tags"] = nil }},
	{"api_schema an array", func(m map[string]any) { m["api_schema"] = []any{} }},
	{"eval_spec blank", func(m map[string]any) { m["eval_spec"] = "" }},
	{"token_symbol lower case", func(m map[string]any) { m["token_symbol"] = "xray" }},
	{"user_id empty", func(m map[string]any) { m["user_id"] = "" }},
}

func validMap(t *testing.T, dt string) map[string]any {
	t.Helper()
	js, err := events.MarshalDetail(events.NewDetail(dt, full()))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInvalidDetailsAreRejected(t *testing.T) {
	for _, dt := range events.DetailTypes {
		for _, tc := range invalid {
			t.Run(dt+"/"+tc.name, func(t *testing.T) {
				m := validMap(t, dt)
				tc.mutate(m)
				b, _ := json.Marshal(m)
				if err := eventschema.Validate(dt, b); err == nil {
					t.Errorf("accepted: %s", b)
				}
			})
		}
	}
	for name, tc := range map[string]struct{ dt, detail string }{
		"unknown detail type": {"model_deleted", `{}`},
		"not JSON":            {events.ModelRegistered, `{"model_id":`},
		"trailing data":       {events.ModelRegistered, `{} {}`},
		"not an object":       {events.ModelRegistered, `[]`},
	} {
		t.Run(name, func(t *testing.T) {
			if err := eventschema.Validate(tc.dt, []byte(tc.detail)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestRegistrySchemaIsDraft4AndEquivalent(t *testing.T) {
	for _, dt := range events.DetailTypes {
		t.Run(dt, func(t *testing.T) {
			raw, err := events.RegistrySchema(dt)
			if err != nil {
				t.Fatal(err)
			}
			for _, later := range []string{`"const"`, `"uuid"`, "2020-12"} {
				if bytes.Contains(raw, []byte(later)) {
					t.Errorf("draft 4 schema contains %s", later)
				}
			}
			sch := compile(t, raw)
			if err := sch.Validate(instance(t, events.Example(dt))); err != nil {
				t.Errorf("example rejected: %v", err)
			}
			other := dt
			for _, x := range events.DetailTypes {
				if x != dt {
					other = x
				}
			}
			if sch.Validate(instance(t, events.Example(other))) == nil {
				t.Errorf("accepts a %s event", other)
			}
			for _, tc := range invalid {
				if strings.Contains(tc.name, "uuid") {
					continue // draft 4 knows no uuid format; the registry documents, the Go validator enforces
				}
				m := validMap(t, dt)
				tc.mutate(m)
				ev := map[string]any{"detail-type": dt, "source": events.Source, "detail": m}
				b, _ := json.Marshal(ev)
				if sch.Validate(instance(t, b)) == nil {
					t.Errorf("%s: accepted", tc.name)
				}
			}
		})
	}
	if _, err := events.RegistrySchema("nope"); err == nil {
		t.Error("unknown detail type accepted")
	}
}

func TestUnknownDetailTypeHasNoFiles(t *testing.T) {
	if events.Schema("nope") != nil || events.Example("nope") != nil {
		t.Error("files for an unknown detail type")
	}
}

func compile(t *testing.T, schema []byte) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("registry.json", instance(t, schema)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("registry.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func instance(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
