// Package events is the public contract of the registry's EventBridge events: the detail types,
// their Go types, the deterministic event id, and (beside this file) a JSON Schema and an example
// of each. Subscribers may import this package.
package events

import (
	"github.com/google/uuid"
)

// Source of every event this system publishes.
const Source = "hokusai.registry"

// Detail types.
const (
	ModelRegistered    = "model_registered"
	ModelReadyToDeploy = "model_ready_to_deploy"
)

// DetailTypes lists every detail type, in publishing order.
var DetailTypes = []string{ModelRegistered, ModelReadyToDeploy}

// MessageVersion is the detail's message_version.
const MessageVersion = "1.0"

// Namespace is the UUID namespace of event ids: event_id = UUIDv5(Namespace,
// "<detail-type>:<model_id>:<run_id>:<version>"). Fixed forever: changing it would make every
// re-published event look new to subscribers that de-duplicate on event_id.
var Namespace = uuid.MustParse("6f1d2a7e-3c4b-5d8e-9f10-a1b2c3d4e5f6")

// EventID is the deterministic id of one detail type of one registration.
func EventID(detailType, modelID, runID, version string) string {
	return uuid.NewSHA1(Namespace, []byte(detailType+":"+modelID+":"+runID+":"+version)).String()
}

// Detail is the detail of both detail types. Field names are the seed's deploy message (its
// consumers keep working) plus ours (event_id, model_uri, user_id, key_id, registration_id).
type Detail struct {
	ModelID               string            `json:"model_id"`
	TokenSymbol           string            `json:"token_symbol"`
	MetricName            string            `json:"metric_name"`
	BaselineValue         float64           `json:"baseline_value"`
	CurrentValue          float64           `json:"current_value"`
	ModelName             string            `json:"model_name"`
	ModelVersion          string            `json:"model_version"`
	MLflowRunID           string            `json:"mlflow_run_id"`
	Status                string            `json:"status"`
	ProposalIdentifier    string            `json:"proposal_identifier"`
	ImprovementPercentage *float64          `json:"improvement_percentage"`
	ContributorAddress    *string           `json:"contributor_address"`
	ExperimentName        *string           `json:"experiment_name"`
	Tags                  map[string]string `json:"tags"`
	APISchema             map[string]any    `json:"api_schema"`
	EvalSpec              *string           `json:"eval_spec"`
	ScorerRef             *string           `json:"scorer_ref"`
	PrimaryMetric         *string           `json:"primary_metric"`
	BenchmarkSpecID       *string           `json:"benchmark_spec_id"`
	Timestamp             string            `json:"timestamp"`
	MessageVersion        string            `json:"message_version"`

	EventID        string `json:"event_id"`
	ModelURI       string `json:"model_uri"`
	UserID         string `json:"user_id"`
	KeyID          string `json:"key_id"`
	RegistrationID string `json:"registration_id"`
}
