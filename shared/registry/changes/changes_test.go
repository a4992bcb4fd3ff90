package changes_test

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	cct "github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding/contentcodingtest"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/changes"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))

func write(op, body string) changes.Write {
	return changes.Write{Operation: op, Body: []byte(body), UserID: "u1", KeyID: "k1", RequestID: "req-1", At: at}
}

func utf16le(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func utf32be(s string) []byte {
	var b []byte
	for _, r := range s {
		b = binary.BigEndian.AppendUint32(b, uint32(r))
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// Each write yields the detail type of the design's table, with the change read as MLflow read it.
func TestReadEveryOperation(t *testing.T) {
	tests := []struct {
		op, body, answer string
		detailType       string
		want             events.RegistryChange
	}{
		{"CreateRegisteredModel", `{"name":"m","description":"d"}`, `{"registered_model":{"name":"m"}}`,
			events.RegisteredModelCreated, events.RegistryChange{ModelName: "m", Description: ptr("d")}},
		{"RenameRegisteredModel", `{"name":"m","new_name":"n"}`, `{}`,
			events.RegisteredModelRenamed, events.RegistryChange{ModelName: "m", NewModelName: "n"}},
		{"UpdateRegisteredModel", `{"name":"m","description":""}`, `{}`,
			events.RegisteredModelUpdated, events.RegistryChange{ModelName: "m", Description: ptr("")}},
		{"DeleteRegisteredModel", `{"name":"m"}`, `{}`, events.RegisteredModelDeleted, events.RegistryChange{ModelName: "m"}},
		{"SetRegisteredModelTag", `{"name":"m","key":"k","value":"v"}`, `{}`,
			events.RegisteredModelTagSet, events.RegistryChange{ModelName: "m", Tag: &events.RegistryTag{Key: "k", Value: ptr("v")}}},
		{"DeleteRegisteredModelTag", `{"name":"m","key":"k"}`, `{}`,
			events.RegisteredModelTagDeleted, events.RegistryChange{ModelName: "m", Tag: &events.RegistryTag{Key: "k"}}},
		{"SetRegisteredModelAlias", `{"name":"m","alias":"champion","version":"3"}`, `{}`,
			events.ModelVersionAliasCreated, events.RegistryChange{ModelName: "m", Alias: "champion", ModelVersion: "3"}},
		{"DeleteRegisteredModelAlias", `{"name":"m","alias":"champion"}`, ``,
			events.ModelVersionAliasDeleted, events.RegistryChange{ModelName: "m", Alias: "champion"}},
		{"CreateModelVersion", `{"name":"m","source":"runs:/r/model","run_id":"r"}`,
			`{"model_version":{"name":"m","version":"7","source":"models:/m-1","run_id":"r","model_id":"m-1"}}`,
			events.ModelVersionCreated, events.RegistryChange{ModelName: "m", ModelVersion: "7", Source: "models:/m-1", RunID: "r", ModelID: "m-1"}},
		{"UpdateModelVersion", `{"name":"m","version":"2","description":"x"}`, `{}`,
			events.ModelVersionUpdated, events.RegistryChange{ModelName: "m", ModelVersion: "2", Description: ptr("x")}},
		{"DeleteModelVersion", `{"name":"m","version":"2"}`, `{}`,
			events.ModelVersionDeleted, events.RegistryChange{ModelName: "m", ModelVersion: "2"}},
		{"TransitionModelVersionStage", `{"name":"m","version":"2","stage":"production","archive_existing_versions":true}`,
			`{"model_version":{"name":"m","version":"2","current_stage":"Production"}}`,
			events.ModelVersionStageTransitioned, events.RegistryChange{ModelName: "m", ModelVersion: "2", Stage: "Production", ArchiveExistingVersions: ptr(true)}},
		{"SetModelVersionTag", `{"name":"m","version":"2","key":"k","value":"v"}`, `{}`,
			events.ModelVersionTagSet, events.RegistryChange{ModelName: "m", ModelVersion: "2", Tag: &events.RegistryTag{Key: "k", Value: ptr("v")}}},
		{"DeleteModelVersionTag", `{"name":"m","version":"2","key":"k"}`, `{}`,
			events.ModelVersionTagDeleted, events.RegistryChange{ModelName: "m", ModelVersion: "2", Tag: &events.RegistryTag{Key: "k"}}},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.op, func(t *testing.T) {
			w := write(tc.op, tc.body)
			w.Answer = []byte(tc.answer)
			got, err := changes.Read(w)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Operation, want.UserID, want.KeyID, want.RequestID = tc.op, "u1", "k1", "req-1"
			want.Timestamp = "2026-03-01T11:00:00Z"
			want = events.NewRegistryChange(tc.detailType, want)
			if got.DetailType != tc.detailType || !equal(got.Detail, want) {
				t.Errorf("got %s %s\nwant %s %s", got.DetailType, js(got.Detail), tc.detailType, js(want))
			}
			seen[got.DetailType] = true
		})
	}
	for _, dt := range events.RegistryDetailTypes {
		if !seen[dt] {
			t.Errorf("no test of %s", dt)
		}
	}
	if len(changes.Operations()) != len(events.RegistryDetailTypes) {
		t.Errorf("%d operations for %d detail types", len(changes.Operations()), len(events.RegistryDetailTypes))
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func equal(a, b events.RegistryChange) bool { return js(a) == js(b) }

// A body is read as MLflow's _get_request_message reads it, whatever its spelling.
func TestReadAsMLflowReads(t *testing.T) {
	alias := func(name, alias, version string) events.RegistryChange {
		return events.RegistryChange{ModelName: name, Alias: alias, ModelVersion: version}
	}
	tests := []struct {
		name string
		op   string
		body []byte
		want events.RegistryChange
	}{
		{"duplicated key: the last wins, as in a Python dict", "SetRegisteredModelAlias",
			[]byte(`{"name":"a","alias":"x","version":"1","name":"b"}`), alias("b", "x", "1")},
		{"keys are exact: NAME is not name", "SetRegisteredModelAlias",
			[]byte(`{"NAME":"evil","name":"m","alias":"x","version":"1"}`), alias("m", "x", "1")},
		{"escaped key is the key", "SetRegisteredModelAlias",
			[]byte(`{"na\u006de":"m","alias":"x","version":"1"}`), alias("m", "x", "1")},
		{"double-encoded JSON", "SetRegisteredModelAlias",
			[]byte(`"{\"name\":\"m\",\"alias\":\"x\",\"version\":\"1\"}"`), alias("m", "x", "1")},
		{"camelCase alias", "RenameRegisteredModel", []byte(`{"name":"m","newName":"n"}`),
			events.RegistryChange{ModelName: "m", NewModelName: "n"}},
		{"camelCase bool", "TransitionModelVersionStage", []byte(`{"name":"m","version":"1","stage":"Staging","archiveExistingVersions":true}`),
			events.RegistryChange{ModelName: "m", ModelVersion: "1", Stage: "Staging", ArchiveExistingVersions: ptr(true)}},
		{"null is unset", "UpdateRegisteredModel", []byte(`{"name":"m","description":null}`),
			events.RegistryChange{ModelName: "m"}},
		{"unknown fields are ignored", "DeleteRegisteredModel", []byte(`{"name":"m","extra":{"deep":[1,2]}}`),
			events.RegistryChange{ModelName: "m"}},
		{"UTF-8 BOM", "DeleteRegisteredModel", append([]byte{0xEF, 0xBB, 0xBF}, `{"name":"m"}`...),
			events.RegistryChange{ModelName: "m"}},
		{"UTF-16 LE without BOM (json.detect_encoding)", "DeleteRegisteredModel", utf16le(`{"name":"mé"}`),
			events.RegistryChange{ModelName: "mé"}},
		{"UTF-16 LE with BOM", "DeleteRegisteredModel", append([]byte{0xFF, 0xFE}, utf16le(`{"name":"m😀"}`)...),
			events.RegistryChange{ModelName: "m😀"}},
		{"UTF-32 BE", "DeleteRegisteredModel", utf32be(`{"name":"m"}`), events.RegistryChange{ModelName: "m"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := changes.Read(changes.Write{Operation: tc.op, Body: tc.body, At: at})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if tc.op == "TransitionModelVersionStage" && want.ArchiveExistingVersions == nil {
				want.ArchiveExistingVersions = ptr(false)
			}
			if got.Detail.ModelName != want.ModelName || got.Detail.Alias != want.Alias || got.Detail.ModelVersion != want.ModelVersion ||
				got.Detail.NewModelName != want.NewModelName || js(got.Detail.Description) != js(want.Description) ||
				js(got.Detail.ArchiveExistingVersions) != js(want.ArchiveExistingVersions) {
				t.Errorf("got %s, want %s", js(got.Detail), js(want))
			}
		})
	}
}

// What MLflow could not have accepted is an error, never a guessed change.
func TestReadRefusesWhatMLflowWouldRefuse(t *testing.T) {
	tests := []struct {
		name, op string
		body     []byte
		answer   string
		encoding string
	}{
		{"both spellings of one field", "RenameRegisteredModel", []byte(`{"name":"m","new_name":"a","newName":"b"}`), "", ""},
		{"not JSON: MLflow reads {}", "DeleteRegisteredModel", []byte(`name=m`), "", ""},
		{"empty body", "DeleteRegisteredModel", nil, "", ""},
		{"invalid UTF-8: MLflow reads {}", "DeleteRegisteredModel", []byte("{\"name\":\"m\xff\"}"), "", ""},
		{"odd UTF-16", "DeleteRegisteredModel", append(utf16le(`{"name":"m"}`), 0), "", ""},
		{"a number for a string field", "DeleteRegisteredModel", []byte(`{"name":7}`), "", ""},
		{"a string for a bool field", "TransitionModelVersionStage", []byte(`{"name":"m","version":"1","stage":"s","archive_existing_versions":"true"}`), "", ""},
		{"an array body", "DeleteRegisteredModel", []byte(`[{"name":"m"}]`), "", ""},
		{"double-encoded, broken inside", "DeleteRegisteredModel", []byte(`"{\"name\":"`), "", ""},
		{"double-encoded twice is a string, not an object", "DeleteRegisteredModel", []byte(`"\"{}\""`), "", ""},
		{"required field missing", "SetRegisteredModelAlias", []byte(`{"name":"m","alias":"x"}`), "", ""},
		{"oversize", "DeleteRegisteredModel", []byte(`{"name":"m","pad":"` + strings.Repeat("x", changes.MaxRequestBody) + `"}`), "", ""},
		{"created version not in the answer", "CreateModelVersion", []byte(`{"name":"m","source":"s"}`), `{}`, ""},
		{"answer not JSON", "CreateModelVersion", []byte(`{"name":"m","source":"s"}`), `<html>`, ""},
		{"answer in an unknown encoding", "CreateModelVersion", []byte(`{"name":"m","source":"s"}`), `{}`, "br"},
		{"answer gzip-labelled, not gzip", "CreateModelVersion", []byte(`{"name":"m","source":"s"}`), `{}`, "gzip"},
		{"operation without an event", "SearchRegisteredModels", []byte(`{}`), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := changes.Write{Operation: tc.op, Body: tc.body, Answer: []byte(tc.answer), AnswerEncoding: tc.encoding, At: at}
			if got, err := changes.Read(w); err == nil {
				t.Errorf("read %s %s", got.DetailType, js(got.Detail))
			}
		})
	}
}

// A gzip answer is read decoded; a gzip bomb is not decoded past the limit.
func TestReadGzipAnswer(t *testing.T) {
	w := write("CreateModelVersion", `{"name":"m","source":"s"}`)
	w.Answer, w.AnswerEncoding = cct.Encode(t, cct.Gzip, []byte(`{"model_version":{"name":"m","version":"4","source":"s"}}`)), "gzip"
	got, err := changes.Read(w)
	if err != nil || got.Detail.ModelVersion != "4" {
		t.Fatalf("%v %s", err, js(got.Detail))
	}
	w.Answer = cct.Encode(t, cct.Gzip, []byte(`{"model_version":{"name":"m","version":"4","source":"`+strings.Repeat("s", changes.MaxAnswer)+`"}}`))
	if _, err := changes.Read(w); err == nil {
		t.Error("an answer over the limit decompressed was read")
	}
}

// The event id is the design's: deterministic per change, different for another request.
func TestEventIDIsPerChange(t *testing.T) {
	w := write("SetRegisteredModelAlias", `{"name":"m","alias":"champion","version":"3"}`)
	a, _ := changes.Read(w)
	b, _ := changes.Read(w)
	if a.Detail.EventID == "" || a.Detail.EventID != b.Detail.EventID {
		t.Fatalf("ids %q %q", a.Detail.EventID, b.Detail.EventID)
	}
	if want := events.RegistryEventID(events.ModelVersionAliasCreated, "req-1", "m", "3", "champion"); a.Detail.EventID != want {
		t.Errorf("id %s, want %s", a.Detail.EventID, want)
	}
	w.RequestID = "req-2"
	if c, _ := changes.Read(w); c.Detail.EventID == a.Detail.EventID {
		t.Error("another request has the same event id")
	}
}

func TestFields(t *testing.T) {
	for _, tc := range []struct {
		body, field string
		want        string
		wantErr     bool
	}{
		{`{"run_id":"r1"}`, "run_id", "r1", false},
		{`{"runId":"r1"}`, "run_id", "r1", false},
		{`{"run_id":"r1","runId":"r2"}`, "run_id", "", true},     // MLflow refuses both spellings
		{`{"run_id":"r1","run_id":"r2"}`, "run_id", "r2", false}, // the last wins, as in a Python dict
		{`{"Run_id":"r1"}`, "run_id", "", false},                 // keys exact, not folded
		{`{"run_id":null}`, "run_id", "", false},
		{`{"run_id":7}`, "run_id", "", true},
		{`"{\"experiment_id\":\"3\"}"`, "experiment_id", "3", false}, // double-encoded
		{`not json`, "experiment_id", "", false},                     // MLflow reads {}
		{`[1]`, "experiment_id", "", true},
	} {
		f, err := changes.ReadFields([]byte(tc.body))
		var got string
		if err == nil {
			got, err = f.String(tc.field)
		}
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s %s: %q %v, want %q error %v", tc.body, tc.field, got, err, tc.want, tc.wantErr)
		}
	}
	f, _ := changes.ReadFields([]byte(`{"experimentIds":["1","2"]}`))
	if ids, err := f.Strings("experiment_ids"); err != nil || len(ids) != 2 || ids[1] != "2" {
		t.Errorf("experiment_ids: %v %v", ids, err)
	}
}
