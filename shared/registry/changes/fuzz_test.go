package changes_test

import (
	"encoding/json"
	"testing"

	"github.com/hokusai-protocol/registry-gateway/shared/registry/changes"
)

// FuzzRead: no body or answer makes Read panic, and what it reads is a change MLflow could have
// made: the detail type of its operation, a model name, an event id, and a detail that marshals.
func FuzzRead(f *testing.F) {
	for _, seed := range []struct{ op, body, answer string }{
		{"SetRegisteredModelAlias", `{"name":"m","alias":"a","version":"1"}`, `{}`},
		{"RenameRegisteredModel", `{"name":"m","newName":"n"}`, `{}`},
		{"CreateModelVersion", `{"name":"m"}`, `{"model_version":{"name":"m","version":"2"}}`},
		{"TransitionModelVersionStage", `"{\"name\":\"m\",\"version\":\"1\",\"stage\":\"x\"}"`, `{}`},
		{"SetModelVersionTag", "\xff\xfe{\x00}\x00", ``},
		{"DeleteRegisteredModel", `{"name":"a","name":null}`, `null`},
	} {
		f.Add(seed.op, []byte(seed.body), []byte(seed.answer))
	}
	f.Fuzz(func(t *testing.T, op string, body, answer []byte) {
		c, err := changes.Read(changes.Write{Operation: op, Body: body, Answer: answer})
		if err != nil {
			return
		}
		if dt, _ := changes.DetailType(op); c.DetailType != dt {
			t.Fatalf("detail type %q for %s", c.DetailType, op)
		}
		if c.Detail.ModelName == "" || c.Detail.EventID == "" || c.Detail.Operation != op {
			t.Fatalf("incomplete change %+v", c.Detail)
		}
		if _, err := json.Marshal(c.Detail); err != nil {
			t.Fatal(err)
		}
	})
}
