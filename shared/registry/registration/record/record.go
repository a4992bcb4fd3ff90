// Package record turns a validated registration into what the registry stores and tells: the
// registration record with the events it owes, each event's detail, and the answer of both
// routes. Each event detail is built and encoded by one function (encode), which both the size
// check made before anything is registered and the record itself use.
package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration/rules"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// MaxDetailBytes is the largest event detail the registry publishes (SPEC 7).
const MaxDetailBytes = 64 << 10

// Announcement is what both routes announce about a model version: the client's claims,
// validated and normalised.
type Announcement struct {
	TokenID, ModelName, MetricName, ProposalIdentifier string
	Baseline, Current                                  float64
	Metadata                                           rules.Metadata
	ContributorAddress, ExperimentName                 *string
	APISchema                                          map[string]any
	Tags                                               map[string]string
}

// FromRegister is the announcement of POST /api/models/register.
func FromRegister(req rules.RegisterRequest) Announcement {
	return Announcement{
		TokenID: req.TokenID, ModelName: req.ModelName, MetricName: req.MetricName, ProposalIdentifier: req.ProposalIdentifier,
		Baseline: req.BaselineValue, Current: req.CurrentValue, Metadata: req.Metadata,
		ContributorAddress: req.ContributorAddress, ExperimentName: req.ExperimentName,
		APISchema: req.APISchema, Tags: req.Tags,
	}
}

// FromEvent is the announcement of POST /api/models/tokenized-registration-events.
func FromEvent(req rules.EventRequest) Announcement {
	return Announcement{
		TokenID: req.TokenID, ModelName: req.ModelName, MetricName: req.MetricName, ProposalIdentifier: req.ProposalIdentifier,
		Baseline: req.BaselineValue, Current: req.CurrentValue, Metadata: req.Metadata,
		APISchema: req.APISchema, Tags: req.Tags,
	}
}

// Landing is where and by whom a version was registered.
type Landing struct {
	RegistrationID string
	Version        string
	RunID          string
	ModelURI       string
	At             time.Time
	UserID, KeyID  string
	// Created is the model version the registration created in MLflow, as MLflow answered; nil
	// when the route announces a version that already existed. It owes a model_version.created
	// event, as any version created through the proxy does.
	Created *Created
	// RequestID is the API Gateway request that recorded the registration.
	RequestID string
}

// Created is what model_version.created says of the version a registration created.
type Created struct {
	Source, RunID, ModelID string
	Description            string // "" when the version has none
}

// ModelID is the registry's id of a tokenized model version: <name>/<version>/<TOKEN_ID>.
func ModelID(name, version, tokenID string) string { return name + "/" + version + "/" + tokenID }

// detail is the event detail of detailType.
func (a Announcement) detail(detailType string, l Landing) events.Detail {
	tags := map[string]string{}
	maps.Copy(tags, a.Tags)
	// The seed's deploy message carried these among the tags; its consumers read them there.
	tags[rules.TagUserID] = l.UserID
	if _, ok := tags["proposal_identifier"]; !ok {
		tags["proposal_identifier"] = a.ProposalIdentifier
	}
	maps.Copy(tags, a.Metadata.Tags())
	return events.NewDetail(detailType, events.Detail{
		ModelID:               ModelID(a.ModelName, l.Version, a.TokenID),
		TokenSymbol:           a.TokenID,
		MetricName:            a.MetricName,
		BaselineValue:         a.Baseline,
		CurrentValue:          a.Current,
		ModelName:             a.ModelName,
		ModelVersion:          l.Version,
		MLflowRunID:           l.RunID,
		ProposalIdentifier:    a.ProposalIdentifier,
		ImprovementPercentage: rules.AssessReadiness(a.MetricName, a.Baseline, a.Current).ImprovementPercentage,
		ContributorAddress:    a.ContributorAddress,
		ExperimentName:        a.ExperimentName,
		Tags:                  tags,
		APISchema:             a.APISchema,
		EvalSpec:              a.Metadata.EvalSpec,
		ScorerRef:             a.Metadata.ScorerRef,
		PrimaryMetric:         a.Metadata.PrimaryMetric,
		BenchmarkSpecID:       a.Metadata.BenchmarkSpecID,
		Timestamp:             events.Timestamp(l.At),
		ModelURI:              l.ModelURI,
		UserID:                l.UserID,
		KeyID:                 l.KeyID,
		RegistrationID:        l.RegistrationID,
	})
}

// encode is the one place an event detail is built and encoded: the size check's probe and the
// record's events both come from here, so what is checked is what is published.
func (a Announcement) encode(detailType string, l Landing) (eventID, detail string, err error) {
	d := a.detail(detailType, l)
	detail, err = events.MarshalDetail(d)
	if err != nil {
		return "", "", fmt.Errorf("encode %s detail: %w", detailType, err)
	}
	return d.EventID, detail, nil
}

// encodeCreated builds and encodes the model_version.created detail of the version l.Created.
// Its event id is derived from the registration id, not the request's: a retry that completes
// the registration, and every re-publication, keep it.
func (a Announcement) encodeCreated(l Landing) (eventID, detail string, err error) {
	c := l.Created
	change := events.RegistryChange{
		Timestamp: events.Timestamp(l.At), UserID: l.UserID, KeyID: l.KeyID, RequestID: l.RequestID,
		RegistrationID: l.RegistrationID, Operation: "CreateModelVersion",
		ModelName: a.ModelName, ModelVersion: l.Version, Source: c.Source, RunID: c.RunID, ModelID: c.ModelID,
	}
	if change.RequestID == "" {
		// Outside API Gateway there is no request id; the registration id names the request's work.
		change.RequestID = l.RegistrationID
	}
	if c.Description != "" {
		change.Description = &c.Description
	}
	d := events.NewRegistryChange(events.ModelVersionCreated, change)
	detail, err = events.MarshalRegistryChange(d)
	if err != nil {
		return "", "", fmt.Errorf("encode %s detail: %w", events.ModelVersionCreated, err)
	}
	return d.EventID, detail, nil
}

// CheckDetailSize refuses, before anything is registered, an announcement whose event detail
// would exceed MaxDetailBytes: the per-field caps alone allow 50 tags of 5000 characters.
// modelURI is the client's, or "" for the default models:/<name>/<version>.
func (a Announcement) CheckDetailSize(userID, keyID, modelURI string) error {
	long := strings.Repeat("9", 64)
	if modelURI == "" {
		modelURI = "models:/" + a.ModelName + "/" + long[:rules.MaxVersionDigits]
	}
	_, d, err := a.encode(events.ModelRegistered, Landing{
		RegistrationID: long, Version: long[:rules.MaxVersionDigits], RunID: long, ModelURI: modelURI,
		UserID: userID, KeyID: keyID,
	})
	if err != nil {
		return err
	}
	// The margin covers what the probe cannot know exactly (a run id longer than MLflow's 32
	// characters, a longer timestamp).
	if len(d) > MaxDetailBytes-1024 {
		return httpapi.Validation(httpapi.FieldError{Field: "tags", Message: fmt.Sprintf(
			"tags, api_schema and the other fields together exceed the %d KB an event may carry; shorten the tags or api_schema",
			MaxDetailBytes>>10)})
	}
	return nil
}

// Registered is the answer to a registration (201) and to GET /api/registrations/{id}.
type Registered struct {
	RegistrationID     string                 `json:"registration_id"`
	ModelID            string                 `json:"model_id"`
	ModelName          string                 `json:"model_name"`
	Version            string                 `json:"version"`
	TokenID            string                 `json:"token_id"`
	ProposalIdentifier string                 `json:"proposal_identifier"`
	ModelURI           string                 `json:"model_uri"`
	Status             string                 `json:"status"`
	RegisteredAt       string                 `json:"registered_at"`
	Events             map[string]EventStatus `json:"events"`
}

// EventStatus is where one event of a registration stands.
type EventStatus struct {
	Status  string `json:"status"` // published, pending (the outbox retries it) or not_eligible
	EventID string `json:"event_id,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Record builds the registration record, with both Hokusai events (and model_version.created
// when l.Created is set), and the answer it stores.
func (a Announcement) Record(l Landing) (regstore.Registration, error) {
	modelID := ModelID(a.ModelName, l.Version, a.TokenID)
	ready := rules.AssessReadiness(a.MetricName, a.Baseline, a.Current)
	rec := regstore.Registration{
		RegistrationID: l.RegistrationID, UserID: l.UserID, KeyID: l.KeyID, ModelName: a.ModelName, Version: l.Version,
		TokenID: a.TokenID, ModelID: modelID, RunID: l.RunID, CreatedAt: events.Timestamp(l.At),
		NextAttemptAt: l.At.UnixMilli(),
	}
	for _, dt := range events.DetailTypes {
		ev := regstore.Event{DetailType: dt, Status: regstore.EventPending}
		if dt == events.ModelReadyToDeploy && !ready.Eligible {
			ev.Status, ev.Reason = regstore.EventNotEligible, ready.Reason
			rec.Events = append(rec.Events, ev)
			continue
		}
		id, detail, err := a.encode(dt, l)
		if err != nil {
			return rec, err
		}
		ev.EventID, ev.Detail = id, detail
		rec.Events = append(rec.Events, ev)
	}
	if l.Created != nil {
		// Recorded with the Hokusai events, so the same outbox guarantees it.
		id, detail, err := a.encodeCreated(l)
		if err != nil {
			return rec, err
		}
		rec.Events = append(rec.Events, regstore.Event{DetailType: events.ModelVersionCreated, Status: regstore.EventPending, EventID: id, Detail: detail})
	}
	view := Registered{
		RegistrationID: l.RegistrationID, ModelID: modelID, ModelName: a.ModelName, Version: l.Version,
		TokenID: a.TokenID, ProposalIdentifier: a.ProposalIdentifier, ModelURI: l.ModelURI,
		Status: rules.StatusRegistered, RegisteredAt: rec.CreatedAt,
	}
	b, err := json.Marshal(view)
	if err != nil {
		return rec, fmt.Errorf("encode registration answer: %w", err)
	}
	rec.Response = string(b)
	return rec, nil
}

// View is the stored answer of rec with its events as they stand now.
func View(rec *regstore.Registration) (Registered, error) {
	var v Registered
	if err := json.Unmarshal([]byte(rec.Response), &v); err != nil {
		return v, fmt.Errorf("decode stored answer of registration %s: %w", rec.RegistrationID, err)
	}
	v.Events = make(map[string]EventStatus, len(rec.Events))
	for _, e := range rec.Events {
		v.Events[e.DetailType] = EventStatus{Status: e.Status, EventID: e.EventID, Reason: e.Reason}
	}
	return v, nil
}

// StoreUnavailable is the answer to a failed read or write of the registrations table, where
// the records are kept. A deadline that ran out stays itself (the caller's 504).
func StoreUnavailable(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return httpapi.Unavailable("the registrations table is unavailable; retry shortly", 1, err)
}
