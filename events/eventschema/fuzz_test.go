package eventschema_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/events/eventschema"
)

// FuzzValidate feeds arbitrary details to Validate, which a subscriber runs on whatever arrives on
// its queue. It never panics, and the schemas and the Go types agree: a detail the schema accepts
// always decodes into its Go type (events.Detail, or events.RegistryChange for the registry's).
func FuzzValidate(f *testing.F) {
	for _, dt := range events.AllDetailTypes() {
		var ev struct{ Detail json.RawMessage }
		if err := json.Unmarshal(events.Example(dt), &ev); err != nil {
			f.Fatal(err)
		}
		f.Add(dt, []byte(ev.Detail))
	}
	for _, s := range []string{"", "null", "{}", "[]", `{"tags":{"a":1}}`, `{"baseline_value":1e400}`, "\xff\xfe", `"x"`} {
		f.Add(events.ModelRegistered, []byte(s))
	}
	for _, s := range []string{`{"tag":{"key":"k","value":1}}`, `{"model_version":3}`, `{"archive_existing_versions":"true"}`} {
		f.Add(events.ModelVersionTagSet, []byte(s))
	}
	f.Add("model_deleted", []byte("{}"))
	f.Fuzz(func(t *testing.T, detailType string, detail []byte) {
		err := eventschema.Validate(detailType, detail)
		if errors.Is(err, eventschema.ErrUnknownDetailType) {
			if events.Schema(detailType) != nil {
				t.Fatalf("%q has a schema but is refused as unknown", detailType)
			}
			return
		}
		if err != nil {
			return
		}
		var into any = &events.Detail{}
		if events.IsRegistryDetailType(detailType) {
			into = &events.RegistryChange{}
		}
		if err := json.Unmarshal(detail, into); err != nil {
			t.Fatalf("the %s schema accepts a detail %T cannot hold: %v\n%s", detailType, into, err, detail)
		}
	})
}
