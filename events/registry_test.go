package events_test

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/events/eventschema"
)

// changes is a change of each registry detail type as the proxy or the registration builds it,
// with every field its detail type carries.
func changes() map[string]events.RegistryChange {
	base := events.RegistryChange{
		Timestamp: "2026-01-15T12:30:00.5+02:00", UserID: "user-1", KeyID: "key-1", RequestID: "req-1",
		ModelName: "hokusai-XRAY",
	}
	with := func(op string, f func(*events.RegistryChange)) events.RegistryChange {
		c := base
		c.Operation = op
		if f != nil {
			f(&c)
		}
		return c
	}
	tag := &events.RegistryTag{Key: "team", Value: ptr("vision")}
	return map[string]events.RegistryChange{
		events.RegisteredModelCreated: with("CreateRegisteredModel", func(c *events.RegistryChange) { c.Description = ptr("x-ray") }),
		events.RegisteredModelRenamed: with("RenameRegisteredModel", func(c *events.RegistryChange) { c.NewModelName = "hokusai-XRAY2" }),
		events.RegisteredModelUpdated: with("UpdateRegisteredModel", func(c *events.RegistryChange) { c.Description = ptr("") }),
		events.RegisteredModelDeleted: with("DeleteRegisteredModel", nil),
		events.RegisteredModelTagSet:  with("SetRegisteredModelTag", func(c *events.RegistryChange) { c.Tag = tag }),
		events.RegisteredModelTagDeleted: with("DeleteRegisteredModelTag", func(c *events.RegistryChange) {
			c.Tag = &events.RegistryTag{Key: "team"}
		}),
		events.ModelVersionAliasCreated: with("SetRegisteredModelAlias", func(c *events.RegistryChange) { c.Alias, c.ModelVersion = "champion", "3" }),
		events.ModelVersionAliasDeleted: with("DeleteRegisteredModelAlias", func(c *events.RegistryChange) { c.Alias = "champion" }),
		events.ModelVersionCreated: with("CreateModelVersion", func(c *events.RegistryChange) {
			c.ModelVersion, c.Source, c.RunID, c.ModelID, c.Description = "3", "models:/m-abc", "run-1", "m-abc", ptr("d")
			c.RegistrationID = "reg-1"
		}),
		events.ModelVersionUpdated: with("UpdateModelVersion", func(c *events.RegistryChange) { c.ModelVersion, c.Description = "3", ptr("d") }),
		events.ModelVersionDeleted: with("DeleteModelVersion", func(c *events.RegistryChange) { c.ModelVersion = "3" }),
		events.ModelVersionStageTransitioned: with("TransitionModelVersionStage", func(c *events.RegistryChange) {
			c.ModelVersion, c.Stage, c.ArchiveExistingVersions = "3", "Production", ptr(false)
		}),
		events.ModelVersionTagSet: with("SetModelVersionTag", func(c *events.RegistryChange) { c.ModelVersion, c.Tag = "3", tag }),
		events.ModelVersionTagDeleted: with("DeleteModelVersionTag", func(c *events.RegistryChange) {
			c.ModelVersion, c.Tag = "3", &events.RegistryTag{Key: "team"}
		}),
	}
}

func TestEveryDetailTypeHasASchemaAndAnExample(t *testing.T) {
	all := events.AllDetailTypes()
	if len(all) != len(events.DetailTypes)+len(events.RegistryDetailTypes) || len(events.RegistryDetailTypes) != 14 {
		t.Fatalf("AllDetailTypes %v", all)
	}
	seen := map[string]bool{}
	for _, dt := range all {
		if seen[dt] {
			t.Errorf("%s listed twice", dt)
		}
		seen[dt] = true
		if events.Schema(dt) == nil || events.Example(dt) == nil {
			t.Errorf("%s has no schema or no example", dt)
		}
		if events.IsRegistryDetailType(dt) != slices.Contains(events.RegistryDetailTypes, dt) {
			t.Errorf("IsRegistryDetailType(%s)", dt)
		}
	}
	if len(changes()) != len(events.RegistryDetailTypes) {
		t.Errorf("the test's changes cover %d of %d registry detail types", len(changes()), len(events.RegistryDetailTypes))
	}
	// No file of a detail type the code does not know: it would be a contract nobody publishes.
	for _, dir := range []string{"schemas", "examples"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if dt := strings.TrimSuffix(e.Name(), ".json"); !seen[dt] {
				t.Errorf("%s/%s is no detail type's", dir, e.Name())
			}
		}
	}
}

func TestRegistryExamplesMatchTheContract(t *testing.T) {
	for _, dt := range events.RegistryDetailTypes {
		t.Run(dt, func(t *testing.T) {
			raw := events.Example(dt)
			var ev events.RegistryEvent
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ev); err != nil {
				t.Fatalf("example does not decode into events.RegistryEvent: %v", err)
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
			rebuilt := events.NewRegistryChange(dt, ev.Detail)
			if rebuilt.EventID != ev.Detail.EventID {
				t.Errorf("event_id %s, want %s", ev.Detail.EventID, rebuilt.EventID)
			}
			// The Go type loses nothing of the example: a subscriber that decodes and re-encodes
			// it publishes the same detail.
			js, err := events.MarshalRegistryChange(rebuilt)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, []byte(js), envelope.Detail) {
				t.Errorf("round trip changed the detail:\n%s\n%s", js, envelope.Detail)
			}
		})
	}
}

func TestBuiltRegistryChangesMatchTheSchemas(t *testing.T) {
	for dt, c := range changes() {
		t.Run(dt, func(t *testing.T) {
			js, err := events.MarshalRegistryChange(events.NewRegistryChange(dt, c))
			if err != nil {
				t.Fatal(err)
			}
			if err := eventschema.Validate(dt, []byte(js)); err != nil {
				t.Fatalf("built change rejected: %v\n%s", err, js)
			}
			// A change is its own type's only: each other type's schema refuses it (other
			// operation, or fields it does not carry).
			for _, other := range events.RegistryDetailTypes {
				if other != dt && eventschema.Validate(other, []byte(js)) == nil {
					t.Errorf("the %s schema accepts a %s change", other, dt)
				}
			}
		})
	}
}

func TestNewRegistryChange(t *testing.T) {
	cs := changes()
	alias := cs[events.ModelVersionAliasCreated]
	built := events.NewRegistryChange(events.ModelVersionAliasCreated, alias)
	if built.MessageVersion != events.MessageVersion || built.Timestamp != "2026-01-15T10:30:00.5Z" {
		t.Errorf("message_version %q timestamp %q", built.MessageVersion, built.Timestamp)
	}
	if want := events.RegistryEventID(events.ModelVersionAliasCreated, "req-1", "hokusai-XRAY", "3", "champion"); built.EventID != want {
		t.Errorf("event_id %s, want %s", built.EventID, want)
	}
	if again := events.NewRegistryChange(events.ModelVersionAliasCreated, built); again != built {
		t.Error("building twice changes the change")
	}
	// Every part of the id's name makes a different id.
	ids := map[string]string{"base": built.EventID}
	variants := map[string]func(*events.RegistryChange) string{
		"detail type": func(*events.RegistryChange) string { return events.ModelVersionAliasDeleted },
		"request":     func(c *events.RegistryChange) string { c.RequestID = "req-2"; return "" },
		"model":       func(c *events.RegistryChange) string { c.ModelName = "other"; return "" },
		"version":     func(c *events.RegistryChange) string { c.ModelVersion = "4"; return "" },
		"alias":       func(c *events.RegistryChange) string { c.Alias = "challenger"; return "" },
	}
	for name, vary := range variants {
		c := alias
		dt := vary(&c)
		if dt == "" {
			dt = events.ModelVersionAliasCreated
		}
		id := events.NewRegistryChange(dt, c).EventID
		for prev, pid := range ids {
			if pid == id {
				t.Errorf("%s and %s share an event id", name, prev)
			}
		}
		ids[name] = id
	}
	// The tag key is the subject of tag events; its value is not part of the id (a tag set twice
	// to different values in one request cannot happen; in two requests the request ids differ).
	tagSet := cs[events.ModelVersionTagSet]
	if got, want := events.NewRegistryChange(events.ModelVersionTagSet, tagSet).EventID,
		events.RegistryEventID(events.ModelVersionTagSet, "req-1", "hokusai-XRAY", "3", "team"); got != want {
		t.Errorf("tag event_id %s, want %s", got, want)
	}
	// The registration's id stands in for the request id: a re-publication, or the same
	// registration answered again under another request id, keeps the event id.
	reg := cs[events.ModelVersionCreated]
	first := events.NewRegistryChange(events.ModelVersionCreated, reg)
	reg.RequestID = "req-retry"
	if events.NewRegistryChange(events.ModelVersionCreated, reg).EventID != first.EventID {
		t.Error("the registration's model_version.created changes id with the request")
	}
	if want := events.RegistryEventID(events.ModelVersionCreated, "reg-1", "hokusai-XRAY", "3", ""); first.EventID != want {
		t.Errorf("registration event_id %s, want %s", first.EventID, want)
	}
}

func TestRegistryChangeJSON(t *testing.T) {
	cs := changes()
	for name, tc := range map[string]struct {
		dt          string
		has, hasNot []string
	}{
		"deleted tag has no value": {events.ModelVersionTagDeleted, []string{`"tag":{"key":"team"}`}, []string{"value"}},
		"set tag has its value":    {events.ModelVersionTagSet, []string{`"tag":{"key":"team","value":"vision"}`}, nil},
		"cleared description is said": {events.RegisteredModelUpdated, []string{`"description":""`},
			[]string{"model_version", "alias", "tag", "stage", "source", "registration_id"}},
		"archive false is said": {events.ModelVersionStageTransitioned, []string{`"archive_existing_versions":false`}, []string{"description"}},
		"empty key id is said":  {events.RegisteredModelDeleted, []string{`"key_id":""`}, []string{"description", "new_model_name"}},
	} {
		t.Run(name, func(t *testing.T) {
			c := cs[tc.dt]
			if tc.dt == events.RegisteredModelDeleted {
				c.KeyID = ""
			}
			js, err := events.MarshalRegistryChange(events.NewRegistryChange(tc.dt, c))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.has {
				if !strings.Contains(js, s) {
					t.Errorf("%s lacks %s", js, s)
				}
			}
			for _, s := range tc.hasNot {
				if strings.Contains(js, `"`+s+`"`) {
					t.Errorf("%s has %s", js, s)
				}
			}
			if err := eventschema.Validate(tc.dt, []byte(js)); err != nil {
				t.Error(err)
			}
		})
	}
}

// invalidChanges are mutations of a valid registry detail its schema must reject.
var invalidChanges = []struct {
	name   string
	types  []string // nil: every registry detail type
	mutate func(map[string]any)
}{
	{"missing event_id", nil, func(m map[string]any) { delete(m, "event_id") }},
	{"missing request_id", nil, func(m map[string]any) { delete(m, "request_id") }},
	{"missing key_id", nil, func(m map[string]any) { delete(m, "key_id") }},
	{"unknown field", nil, func(m map[string]any) { m["surprise"] = 1 }},
	{"event_id not a uuid", nil, func(m map[string]any) { m["event_id"] = "evt-1" }},
	{"message_version 2.0", nil, func(m map[string]any) { m["message_version"] = "2.0" }},
	{"timestamp not UTC", nil, func(m map[string]any) { m["timestamp"] = "2026-01-15T10:30:00+02:00" }},
	{"timestamp not a date-time", nil, func(m map[string]any) { m["timestamp"] = "15 Jan 2026" }},
	{"user_id empty", nil, func(m map[string]any) { m["user_id"] = "" }},
	{"model_name empty", nil, func(m map[string]any) { m["model_name"] = "" }},
	{"another operation", nil, func(m map[string]any) { m["operation"] = "GetRegisteredModel" }},
	{"registration_id", []string{events.ModelVersionAliasCreated, events.ModelVersionDeleted}, func(m map[string]any) { m["registration_id"] = "r" }},
	{"model_version not a number", []string{events.ModelVersionCreated, events.ModelVersionAliasCreated, events.ModelVersionTagSet},
		func(m map[string]any) { m["model_version"] = "latest" }},
	{"model_version a JSON number", []string{events.ModelVersionDeleted}, func(m map[string]any) { m["model_version"] = 3 }},
	{"missing model_version", []string{events.ModelVersionCreated, events.ModelVersionAliasCreated, events.ModelVersionTagDeleted},
		func(m map[string]any) { delete(m, "model_version") }},
	{"missing alias", []string{events.ModelVersionAliasCreated, events.ModelVersionAliasDeleted}, func(m map[string]any) { delete(m, "alias") }},
	{"missing tag", []string{events.RegisteredModelTagSet, events.ModelVersionTagDeleted}, func(m map[string]any) { delete(m, "tag") }},
	{"tag without value", []string{events.RegisteredModelTagSet, events.ModelVersionTagSet},
		func(m map[string]any) { delete(m["tag"].(map[string]any), "value") }},
	{"deleted tag with a value", []string{events.RegisteredModelTagDeleted, events.ModelVersionTagDeleted},
		func(m map[string]any) { m["tag"].(map[string]any)["value"] = "v" }},
	{"tag value a number", []string{events.ModelVersionTagSet}, func(m map[string]any) { m["tag"].(map[string]any)["value"] = 1 }},
	{"tag key empty", []string{events.ModelVersionTagSet}, func(m map[string]any) { m["tag"].(map[string]any)["key"] = "" }},
	{"missing new_model_name", []string{events.RegisteredModelRenamed}, func(m map[string]any) { delete(m, "new_model_name") }},
	{"missing source", []string{events.ModelVersionCreated}, func(m map[string]any) { delete(m, "source") }},
	{"missing stage", []string{events.ModelVersionStageTransitioned}, func(m map[string]any) { delete(m, "stage") }},
	{"archive a string", []string{events.ModelVersionStageTransitioned}, func(m map[string]any) { m["archive_existing_versions"] = "false" }},
	{"model version on a model event", []string{events.RegisteredModelDeleted}, func(m map[string]any) { m["model_version"] = "1" }},
}

func changeMap(t *testing.T, dt string) map[string]any {
	t.Helper()
	js, err := events.MarshalRegistryChange(events.NewRegistryChange(dt, changes()[dt]))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInvalidRegistryChangesAreRejected(t *testing.T) {
	for _, tc := range invalidChanges {
		types := tc.types
		if types == nil {
			types = events.RegistryDetailTypes
		}
		for _, dt := range types {
			t.Run(dt+"/"+tc.name, func(t *testing.T) {
				m := changeMap(t, dt)
				tc.mutate(m)
				b, _ := json.Marshal(m)
				if err := eventschema.Validate(dt, b); err == nil {
					t.Errorf("accepted: %s", b)
				}
			})
		}
	}
}

// TestRegistrySchemaOfRegistryChanges: the schema registry's draft 4 form of each registry
// detail type accepts its example and refuses the invalid mutations (but for uuid, a format
// draft 4 does not know).
func TestRegistrySchemaOfRegistryChanges(t *testing.T) {
	for _, dt := range events.RegistryDetailTypes {
		t.Run(dt, func(t *testing.T) {
			raw, err := events.RegistrySchema(dt)
			if err != nil {
				t.Fatal(err)
			}
			sch := compile(t, raw)
			if err := sch.Validate(instance(t, events.Example(dt))); err != nil {
				t.Errorf("example rejected: %v", err)
			}
			for _, tc := range invalidChanges {
				if strings.Contains(tc.name, "uuid") || (tc.types != nil && !slices.Contains(tc.types, dt)) {
					continue
				}
				m := changeMap(t, dt)
				tc.mutate(m)
				b, _ := json.Marshal(map[string]any{"detail-type": dt, "source": events.Source, "detail": m})
				if sch.Validate(instance(t, b)) == nil {
					t.Errorf("%s: accepted", tc.name)
				}
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
