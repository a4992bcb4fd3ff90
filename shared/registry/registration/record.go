package registration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// announcement is what both routes announce about a model version: the client's claims,
// validated and normalised.
type announcement struct {
	TokenID, ModelName, MetricName, ProposalIdentifier string
	Baseline, Current                                  float64
	Metadata                                           rules.Metadata
	ContributorAddress, ExperimentName                 *string
	APISchema                                          map[string]any
	Tags                                               map[string]string
}

func registerAnnouncement(req rules.RegisterRequest) announcement {
	return announcement{
		TokenID: req.TokenID, ModelName: req.ModelName, MetricName: req.MetricName, ProposalIdentifier: req.ProposalIdentifier,
		Baseline: req.BaselineValue, Current: req.CurrentValue, Metadata: req.Metadata,
		ContributorAddress: req.ContributorAddress, ExperimentName: req.ExperimentName,
		APISchema: req.APISchema, Tags: req.Tags,
	}
}

func eventAnnouncement(req rules.EventRequest) announcement {
	return announcement{
		TokenID: req.TokenID, ModelName: req.ModelName, MetricName: req.MetricName, ProposalIdentifier: req.ProposalIdentifier,
		Baseline: req.BaselineValue, Current: req.CurrentValue, Metadata: req.Metadata,
		APISchema: req.APISchema, Tags: req.Tags,
	}
}

// landing is where and by whom a version was registered.
type landing struct {
	RegistrationID string
	Version        string
	RunID          string
	ModelURI       string
	At             time.Time
	UserID, KeyID  string
}

// ModelID is the registry's id of a tokenized model version: <name>/<version>/<TOKEN_ID>.
func ModelID(name, version, tokenID string) string { return name + "/" + version + "/" + tokenID }

// detail is the event detail of detailType.
func (a announcement) detail(detailType string, l landing) events.Detail {
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

// checkDetailSize refuses, before anything is registered, an announcement whose event detail
// would exceed MaxDetailBytes: the per-field caps alone allow 50 tags of 5000 characters.
// modelURI is the client's, or "" for the default models:/<name>/<version>.
func (a announcement) checkDetailSize(userID, keyID, modelURI string) error {
	long := strings.Repeat("9", 64)
	if modelURI == "" {
		modelURI = "models:/" + a.ModelName + "/" + long[:rules.MaxVersionDigits]
	}
	d := a.detail(events.ModelRegistered, landing{
		RegistrationID: long, Version: long[:rules.MaxVersionDigits], RunID: long, ModelURI: modelURI,
		UserID: userID, KeyID: keyID,
	})
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode event detail: %w", err)
	}
	// The margin covers what the probe cannot know exactly (a run id longer than MLflow's 32
	// characters, a longer timestamp).
	if len(b) > MaxDetailBytes-1024 {
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

// record builds the registration record, with both events, and the answer it stores.
func (a announcement) record(l landing) (regstore.Registration, error) {
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
		d := a.detail(dt, l)
		detail, err := events.MarshalDetail(d)
		if err != nil {
			return rec, fmt.Errorf("encode %s detail: %w", dt, err)
		}
		ev.EventID, ev.Detail = d.EventID, detail
		rec.Events = append(rec.Events, ev)
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

// view is the stored answer of rec with its events as they stand now.
func view(rec *regstore.Registration) (Registered, error) {
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

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
