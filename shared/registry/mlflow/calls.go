package mlflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// errUnquotable is a value that cannot be written into a search filter: MLflow's filter syntax has
// no escape for quotes, so such a value could change the filter's meaning.
var errUnquotable = errors.New("value cannot be used in an MLflow search filter")

// literal quotes v for a search filter.
func literal(v string) (string, error) {
	if v == "" || strings.ContainsAny(v, `'"\`+"`\n\r") {
		return "", fmt.Errorf("%q: %w", v, errUnquotable)
	}
	return "'" + v + "'", nil
}

// GetRun is GET runs/get.
func (c *Client) GetRun(ctx context.Context, runID string) (*Run, error) {
	var out struct {
		Run Run `json:"run"`
	}
	if err := c.call(ctx, http.MethodGet, "runs/get", url.Values{"run_id": {runID}}, nil, &out); err != nil {
		return nil, err
	}
	return &out.Run, nil
}

// SetRunTags sets tags on a run in one call (POST runs/log-batch).
func (c *Client) SetRunTags(ctx context.Context, runID string, tags []Tag) error {
	in := map[string]any{"run_id": runID, "tags": tags}
	return c.call(ctx, http.MethodPost, "runs/log-batch", nil, in, nil)
}

// ListArtifacts lists a run's artifacts under path (GET artifacts/list).
func (c *Client) ListArtifacts(ctx context.Context, runID, path string) ([]FileInfo, error) {
	var out struct {
		Files []FileInfo `json:"files"`
	}
	q := url.Values{"run_id": {runID}, "path": {path}}
	if err := c.call(ctx, http.MethodGet, "artifacts/list", q, nil, &out); err != nil {
		return nil, err
	}
	return out.Files, nil
}

// maxResults bounds the searches: far more logged models than anyone logs under one name in one
// run, and far more versions than one registration id ever tags.
const maxResults = 100

// FindLoggedModels returns the logged models named name that run runID of experiment
// experimentID produced (POST logged-models/search, filtered on both by the server).
func (c *Client) FindLoggedModels(ctx context.Context, experimentID, runID, name string) ([]LoggedModel, error) {
	n, err := literal(name)
	if err != nil {
		return nil, fmt.Errorf("find logged models: name %w", err)
	}
	r, err := literal(runID)
	if err != nil {
		return nil, fmt.Errorf("find logged models: run id %w", err)
	}
	in := map[string]any{
		"experiment_ids": []string{experimentID},
		"filter":         "name = " + n + " AND source_run_id = " + r,
		"max_results":    maxResults,
	}
	var out struct {
		Models []LoggedModel `json:"models"`
	}
	if err := c.call(ctx, http.MethodPost, "logged-models/search", nil, in, &out); err != nil {
		return nil, err
	}
	return out.Models, nil
}

// GetLoggedModel is GET logged-models/{model_id}.
func (c *Client) GetLoggedModel(ctx context.Context, modelID string) (*LoggedModel, error) {
	var out struct {
		Model LoggedModel `json:"model"`
	}
	if err := c.call(ctx, http.MethodGet, "logged-models/"+url.PathEscape(modelID), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out.Model, nil
}

// CreateRegisteredModel is POST registered-models/create. A name that exists already is an
// *APIError with code ResourceAlreadyExists.
func (c *Client) CreateRegisteredModel(ctx context.Context, name string) error {
	return c.call(ctx, http.MethodPost, "registered-models/create", nil, map[string]string{"name": name}, nil)
}

// NewModelVersion is what CreateModelVersion sends.
type NewModelVersion struct {
	Name        string `json:"name"`
	Source      string `json:"source"`
	RunID       string `json:"run_id,omitempty"`
	ModelID     string `json:"model_id,omitempty"`
	Description string `json:"description,omitempty"`
	Tags        []Tag  `json:"tags,omitempty"`
}

// CreateModelVersion is POST model-versions/create: the version, its lineage and all its tags in
// one call.
func (c *Client) CreateModelVersion(ctx context.Context, mv NewModelVersion) (*ModelVersion, error) {
	var out struct {
		ModelVersion ModelVersion `json:"model_version"`
	}
	if err := c.call(ctx, http.MethodPost, "model-versions/create", nil, mv, &out); err != nil {
		return nil, err
	}
	return &out.ModelVersion, nil
}

// GetModelVersion is GET model-versions/get.
func (c *Client) GetModelVersion(ctx context.Context, name, version string) (*ModelVersion, error) {
	var out struct {
		ModelVersion ModelVersion `json:"model_version"`
	}
	q := url.Values{"name": {name}, "version": {version}}
	if err := c.call(ctx, http.MethodGet, "model-versions/get", q, nil, &out); err != nil {
		return nil, err
	}
	return &out.ModelVersion, nil
}

// FindModelVersionsByTag returns the versions, of any registered model, whose tag key has value
// (GET model-versions/search). key must be a plain identifier.
func (c *Client) FindModelVersionsByTag(ctx context.Context, key, value string) ([]ModelVersion, error) {
	if key == "" || strings.ContainsFunc(key, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		return nil, fmt.Errorf("find model versions: tag key %q: %w", key, errUnquotable)
	}
	v, err := literal(value)
	if err != nil {
		return nil, fmt.Errorf("find model versions: tag value %w", err)
	}
	q := url.Values{"filter": {"tags." + key + " = " + v}, "max_results": {strconv.Itoa(maxResults)}}
	var out struct {
		ModelVersions []ModelVersion `json:"model_versions"`
	}
	if err := c.call(ctx, http.MethodGet, "model-versions/search", q, nil, &out); err != nil {
		return nil, err
	}
	return out.ModelVersions, nil
}

// SetModelVersionTag is POST model-versions/set-tag (MLflow has no batch form).
func (c *Client) SetModelVersionTag(ctx context.Context, name, version string, tag Tag) error {
	in := map[string]string{"name": name, "version": version, "key": tag.Key, "value": tag.Value}
	return c.call(ctx, http.MethodPost, "model-versions/set-tag", nil, in, nil)
}

// TraceInfo is what the gateway reads of a trace: the experiment it belongs to.
type TraceInfo struct {
	RequestID    string `json:"request_id"`
	ExperimentID string `json:"experiment_id"`
}

// GetTraceInfo is GET traces/{request_id}/info (a v3 trace id is accepted as the request id).
func (c *Client) GetTraceInfo(ctx context.Context, traceID string) (*TraceInfo, error) {
	var out struct {
		TraceInfo TraceInfo `json:"trace_info"`
	}
	if err := c.call(ctx, http.MethodGet, "traces/"+url.PathEscape(traceID)+"/info", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out.TraceInfo, nil
}

// Experiment is what the gateway reads of an experiment.
type Experiment struct {
	ExperimentID string `json:"experiment_id"`
	Name         string `json:"name"`
}

// GetExperimentByName is GET experiments/get-by-name.
func (c *Client) GetExperimentByName(ctx context.Context, name string) (*Experiment, error) {
	var out struct {
		Experiment Experiment `json:"experiment"`
	}
	if err := c.call(ctx, http.MethodGet, "experiments/get-by-name", url.Values{"experiment_name": {name}}, nil, &out); err != nil {
		return nil, err
	}
	return &out.Experiment, nil
}
