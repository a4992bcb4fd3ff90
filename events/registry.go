package events

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Registry detail types: one per kind of change to MLflow's model registry, named entity.action
// with MLflow's own webhook names where MLflow has one (registered_model.created,
// model_version.created, model_version_tag.set|deleted, model_version_alias.created|deleted), so
// a subscriber moving from MLflow's webhooks keeps its names. Their detail is RegistryChange.
const (
	RegisteredModelCreated        = "registered_model.created"
	RegisteredModelRenamed        = "registered_model.renamed"
	RegisteredModelUpdated        = "registered_model.updated"
	RegisteredModelDeleted        = "registered_model.deleted"
	RegisteredModelTagSet         = "registered_model_tag.set"
	RegisteredModelTagDeleted     = "registered_model_tag.deleted"
	ModelVersionAliasCreated      = "model_version_alias.created"
	ModelVersionAliasDeleted      = "model_version_alias.deleted"
	ModelVersionCreated           = "model_version.created"
	ModelVersionUpdated           = "model_version.updated"
	ModelVersionDeleted           = "model_version.deleted"
	ModelVersionStageTransitioned = "model_version.stage_transitioned"
	ModelVersionTagSet            = "model_version_tag.set"
	ModelVersionTagDeleted        = "model_version_tag.deleted"
)

// RegistryDetailTypes lists every registry detail type. DetailTypes stays the registration's own
// two (the registration publishes each of those for every model); AllDetailTypes is both lists.
var RegistryDetailTypes = []string{
	RegisteredModelCreated, RegisteredModelRenamed, RegisteredModelUpdated, RegisteredModelDeleted,
	RegisteredModelTagSet, RegisteredModelTagDeleted,
	ModelVersionAliasCreated, ModelVersionAliasDeleted,
	ModelVersionCreated, ModelVersionUpdated, ModelVersionDeleted, ModelVersionStageTransitioned,
	ModelVersionTagSet, ModelVersionTagDeleted,
}

// AllDetailTypes is every detail type of the contract: each has a schema and an example, and the
// stack registers and routes each.
func AllDetailTypes() []string { return slices.Concat(DetailTypes, RegistryDetailTypes) }

// IsRegistryDetailType reports whether detailType's detail is a RegistryChange.
func IsRegistryDetailType(detailType string) bool {
	return slices.Contains(RegistryDetailTypes, detailType)
}

// RegistryChange is the detail of every registry detail type: who changed what in the registry,
// and the change itself. Fields a detail type does not carry are omitted; its schema
// (Schema(detailType)) says which it requires.
type RegistryChange struct {
	EventID        string `json:"event_id"`
	MessageVersion string `json:"message_version"`
	// Timestamp is when the gateway saw MLflow's success, RFC 3339 in UTC.
	Timestamp string `json:"timestamp"`
	UserID    string `json:"user_id"`
	KeyID     string `json:"key_id"` // empty when the key source does not name one
	RequestID string `json:"request_id"`
	// RegistrationID is set only on the registration's model_version.created; it stands in for
	// RequestID in the event id, so the outbox's re-publications of it keep its event_id.
	RegistrationID string `json:"registration_id,omitempty"`
	Operation      string `json:"operation"` // MLflow's RPC name, e.g. SetRegisteredModelAlias
	ModelName      string `json:"model_name"`
	// ModelVersion is the version changed; for alias events the version the alias points to.
	ModelVersion string       `json:"model_version,omitempty"`
	NewModelName string       `json:"new_model_name,omitempty"` // registered_model.renamed
	Alias        string       `json:"alias,omitempty"`          // alias events
	Tag          *RegistryTag `json:"tag,omitempty"`            // tag events
	// Description is a pointer because an update to "" (clearing it) is a change worth saying.
	Description             *string `json:"description,omitempty"`
	Stage                   string  `json:"stage,omitempty"`                     // stage_transitioned
	ArchiveExistingVersions *bool   `json:"archive_existing_versions,omitempty"` // stage_transitioned
	Source                  string  `json:"source,omitempty"`                    // model_version.created
	RunID                   string  `json:"run_id,omitempty"`                    // model_version.created
	ModelID                 string  `json:"model_id,omitempty"`                  // model_version.created, MLflow 3 logged model
}

// RegistryTag is a tag event's tag. Value is absent when the tag was deleted.
type RegistryTag struct {
	Key   string  `json:"key"`
	Value *string `json:"value,omitempty"`
}

// RegistryEventID is the deterministic id of one registry change: UUIDv5 in Namespace of
// "<detail-type>:<request_id>:<model_name>:<model_version>:<subject>", subject being the alias or
// the tag key ("" otherwise). requestID is the registration id for the registration's events.
func RegistryEventID(detailType, requestID, modelName, modelVersion, subject string) string {
	return uuid.NewSHA1(Namespace, []byte(detailType+":"+requestID+":"+modelName+":"+modelVersion+":"+subject)).String()
}

// NewRegistryChange returns c completed as the detail of detailType, the one way the proxy and the
// registration build registry details: event_id derived from the change (RegistryEventID, with
// RegistrationID in place of RequestID when set), message_version MessageVersion, and the
// timestamp, when it parses as RFC 3339, rewritten in UTC (build it with Timestamp).
func NewRegistryChange(detailType string, c RegistryChange) RegistryChange {
	c.MessageVersion = MessageVersion
	id := c.RequestID
	if c.RegistrationID != "" {
		id = c.RegistrationID
	}
	subject := c.Alias
	if c.Tag != nil {
		subject = c.Tag.Key
	}
	c.EventID = RegistryEventID(detailType, id, c.ModelName, c.ModelVersion, subject)
	if t, err := time.Parse(time.RFC3339Nano, c.Timestamp); err == nil {
		c.Timestamp = Timestamp(t)
	}
	return c
}

// MarshalRegistryChange is the JSON a registry detail is published as.
func MarshalRegistryChange(c RegistryChange) (string, error) {
	b, err := json.Marshal(c)
	return string(b), err
}

// RegistryEvent is a registry event as EventBridge delivers it to a rule's target.
type RegistryEvent = Envelope[RegistryChange]
