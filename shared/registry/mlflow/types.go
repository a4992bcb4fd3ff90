package mlflow

import (
	"encoding/json"
	"strconv"
)

// Tag is an MLflow tag as the REST API carries it.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Tags turns a map into the REST API's list, in the order keys gives (MLflow keeps no order, but
// a fixed one makes requests reproducible).
func Tags(m map[string]string, keys []string) []Tag {
	out := make([]Tag, 0, len(keys))
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out = append(out, Tag{Key: k, Value: v})
		}
	}
	return out
}

// TagMap turns the REST API's list into a map.
func TagMap(tags []Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// Run is the part of an MLflow run the registry reads.
type Run struct {
	Info    RunInfo    `json:"info"`
	Outputs RunOutputs `json:"outputs"`
}

// RunInfo is a run's identity and storage.
type RunInfo struct {
	RunID          string `json:"run_id"`
	ExperimentID   string `json:"experiment_id"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"` // "active" or "deleted"
}

// RunOutputs lists the logged models a run produced (MLflow 3).
type RunOutputs struct {
	ModelOutputs []ModelOutput `json:"model_outputs"`
}

// ModelOutput is one logged model a run produced, at a step.
type ModelOutput struct {
	ModelID string `json:"model_id"`
	Step    Int64  `json:"step"`
}

// LoggedModel is an MLflow 3 logged model.
type LoggedModel struct {
	Info LoggedModelInfo `json:"info"`
}

// LoggedModelInfo is a logged model's identity and lineage.
type LoggedModelInfo struct {
	ModelID      string `json:"model_id"`
	ExperimentID string `json:"experiment_id"`
	Name         string `json:"name"`
	SourceRunID  string `json:"source_run_id"`
	ArtifactURI  string `json:"artifact_uri"`
	Status       string `json:"status"`
}

// ModelVersion is a registered model version.
type ModelVersion struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Source      string `json:"source"`
	RunID       string `json:"run_id"`
	ModelID     string `json:"model_id"`
	Status      string `json:"status"`
	Description string `json:"description"`
	Tags        []Tag  `json:"tags"`
	// CreationTimestamp is when the version was created, in epoch milliseconds.
	CreationTimestamp Int64 `json:"creation_timestamp"`
}

// FileInfo is one entry of an artifact listing.
type FileInfo struct {
	Path  string `json:"path"`
	IsDir bool   `json:"is_dir"`
}

// Int64 decodes an int64 that MLflow's JSON may carry as a number or as a string (proto3 JSON
// writes 64-bit integers as strings).
type Int64 int64

// UnmarshalJSON implements json.Unmarshaler.
func (n *Int64) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		*n = Int64(v)
		return nil
	}
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = Int64(v)
	return nil
}
