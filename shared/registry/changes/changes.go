// Package changes reads a successful write to MLflow's model registry into the registry event that
// says what changed (events.RegistryChange): which detail type, the resource, the change itself.
//
// The request is read the way MLflow read it (request.go), so the event says what MLflow did, not
// what another reading of the same bytes would say; what only MLflow knows (the number of a
// created version, a stage as it stored it) comes from its answer. It is called only after MLflow
// answered 2xx: a body MLflow could not have accepted is an error here, never a guess.
package changes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/contentcoding"

	"github.com/hokusai-protocol/registry-gateway/events"
)

// MaxRequestBody bounds the request body of a registry write that is read: MLflow's registry
// requests are a name, a few short fields and at most a few tags. The proxy refuses a longer one
// rather than let a change go unannounced.
const MaxRequestBody = 1 << 20

// MaxAnswer bounds MLflow's answer to a registry write, decoded: a registered model or version
// with its tags and description is a few kilobytes.
const MaxAnswer = 1 << 20

// Write is one registry write MLflow accepted.
type Write struct {
	// Operation is MLflow's RPC name of the call (SetRegisteredModelAlias, …).
	Operation string
	// Body is the request body as the client sent it, byte for byte as MLflow received it.
	Body []byte
	// Answer is MLflow's 2xx answer as it was sent, in AnswerEncoding (its Content-Encoding).
	Answer         []byte
	AnswerEncoding string
	// UserID, KeyID and RequestID are the caller (from the authorizer) and the API Gateway
	// request id; At is when the gateway saw MLflow's success.
	UserID, KeyID, RequestID string
	At                       time.Time
}

// Change is the event one write yields.
type Change struct {
	DetailType string
	Detail     events.RegistryChange
}

// operation is how one MLflow write becomes its change.
type operation struct {
	detailType string
	read       func(rd *reader, a answer) events.RegistryChange
}

// operations are the registry writes that yield an event, by MLflow's RPC name.
var operations = map[string]operation{
	"CreateRegisteredModel": {events.RegisteredModelCreated, func(rd *reader, a answer) events.RegistryChange {
		c := events.RegistryChange{ModelName: rd.required(fName), Description: rd.optional(fDescription)}
		if a.RegisteredModel.Name != "" { // MLflow's reading of the name, as the owner claim uses
			c.ModelName = a.RegisteredModel.Name
		}
		return c
	}},
	"RenameRegisteredModel": {events.RegisteredModelRenamed, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), NewModelName: rd.required(fNewName)}
	}},
	"UpdateRegisteredModel": {events.RegisteredModelUpdated, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), Description: rd.optional(fDescription)}
	}},
	"DeleteRegisteredModel": {events.RegisteredModelDeleted, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName)}
	}},
	"SetRegisteredModelTag": {events.RegisteredModelTagSet, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), Tag: tagSet(rd)}
	}},
	"DeleteRegisteredModelTag": {events.RegisteredModelTagDeleted, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), Tag: &events.RegistryTag{Key: rd.required(fKey)}}
	}},
	"SetRegisteredModelAlias": {events.ModelVersionAliasCreated, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), Alias: rd.required(fAlias), ModelVersion: rd.required(fVersion)}
	}},
	"DeleteRegisteredModelAlias": {events.ModelVersionAliasDeleted, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), Alias: rd.required(fAlias)}
	}},
	"CreateModelVersion": {events.ModelVersionCreated, func(rd *reader, a answer) events.RegistryChange {
		// The number exists only in MLflow's answer; the rest is read from it too, as MLflow
		// stored it (a runs:/ source resolved, say).
		mv := a.ModelVersion
		c := events.RegistryChange{
			ModelName: mv.Name, ModelVersion: mv.Version, Source: mv.Source, RunID: mv.RunID, ModelID: mv.ModelID,
			Description: rd.optional(fDescription),
		}
		if c.ModelName == "" || c.ModelVersion == "" {
			rd.err = errors.Join(rd.err, errors.New("MLflow's answer names no created version"))
		}
		return c
	}},
	"UpdateModelVersion": {events.ModelVersionUpdated, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), ModelVersion: rd.required(fVersion), Description: rd.optional(fDescription)}
	}},
	"DeleteModelVersion": {events.ModelVersionDeleted, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), ModelVersion: rd.required(fVersion)}
	}},
	"TransitionModelVersionStage": {events.ModelVersionStageTransitioned, func(rd *reader, a answer) events.RegistryChange {
		c := events.RegistryChange{
			ModelName: rd.required(fName), ModelVersion: rd.required(fVersion), Stage: rd.required(fStage),
			ArchiveExistingVersions: rd.boolean(fArchive),
		}
		if c.ArchiveExistingVersions == nil {
			c.ArchiveExistingVersions = new(false) // proto3's default, which MLflow applied
		}
		if s := a.ModelVersion.CurrentStage; s != "" { // MLflow canonicalises "production" to "Production"
			c.Stage = s
		}
		return c
	}},
	"SetModelVersionTag": {events.ModelVersionTagSet, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), ModelVersion: rd.required(fVersion), Tag: tagSet(rd)}
	}},
	"DeleteModelVersionTag": {events.ModelVersionTagDeleted, func(rd *reader, _ answer) events.RegistryChange {
		return events.RegistryChange{ModelName: rd.required(fName), ModelVersion: rd.required(fVersion), Tag: &events.RegistryTag{Key: rd.required(fKey)}}
	}},
}

func tagSet(rd *reader) *events.RegistryTag {
	// MLflow stores an unsent value as "": the event says what it stored.
	v := rd.str(fValue)
	return &events.RegistryTag{Key: rd.required(fKey), Value: &v}
}

// DetailType is the detail type an operation's success yields; false: it yields none.
func DetailType(operation string) (string, bool) {
	op, ok := operations[operation]
	return op.detailType, ok
}

// Operations are the MLflow RPC names whose success yields a registry event.
func Operations() []string {
	out := make([]string, 0, len(operations))
	for name := range operations {
		out = append(out, name)
	}
	return out
}

// answer is the part of MLflow's answers to registry writes an event reads.
type answer struct {
	RegisteredModel struct {
		Name string `json:"name"`
	} `json:"registered_model"`
	ModelVersion struct {
		Name         string `json:"name"`
		Version      string `json:"version"`
		Source       string `json:"source"`
		RunID        string `json:"run_id"`
		ModelID      string `json:"model_id"`
		CurrentStage string `json:"current_stage"`
	} `json:"model_version"`
}

// Read is the change a successful write made. An error means the write cannot be read as MLflow
// read it (an operation that yields no event, a body MLflow would have refused, an answer that is
// not MLflow's); the caller logs it.
func Read(w Write) (Change, error) {
	op, ok := operations[w.Operation]
	if !ok {
		return Change{}, fmt.Errorf("operation %q yields no registry event", w.Operation)
	}
	if len(w.Body) > MaxRequestBody {
		return Change{}, fmt.Errorf("%s: request body over %d bytes", w.Operation, MaxRequestBody)
	}
	req, err := parseRequest(w.Body)
	if err != nil {
		return Change{}, fmt.Errorf("%s: %w", w.Operation, err)
	}
	var a answer
	if len(bytes.TrimSpace(w.Answer)) > 0 {
		body, err := contentcoding.Decode(w.Answer, w.AnswerEncoding, MaxAnswer)
		if err != nil {
			return Change{}, fmt.Errorf("%s: MLflow's answer: %w", w.Operation, err)
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return Change{}, fmt.Errorf("%s: MLflow's answer: %w", w.Operation, err)
		}
	}
	rd := &reader{req: req}
	c := op.read(rd, a)
	if rd.err != nil {
		return Change{}, fmt.Errorf("%s: %w", w.Operation, rd.err)
	}
	c.Operation = w.Operation
	c.UserID, c.KeyID, c.RequestID = w.UserID, w.KeyID, w.RequestID
	c.Timestamp = events.Timestamp(w.At)
	return Change{DetailType: op.detailType, Detail: events.NewRegistryChange(op.detailType, c)}, nil
}
