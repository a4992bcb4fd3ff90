package searchfilter

import (
	"encoding/json"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// search is how one of MLflow's searches is read (service.proto, model_registry.proto and the
// server's handlers): the answer's list, what each result belongs to, the request field that
// scopes it to experiments, and its page size when the request names none.
type search struct {
	// list is the answer's repeated field.
	list string
	// resource is the experiment or registered model a result belongs to; false when the result
	// does not say (it is then dropped: unreadable).
	resource func(item json.RawMessage) (permissions.Resource, bool)
	// scope is how the request names the experiments searched; nil for a search of everything.
	scope scope
	// defaultSize is max_results when the request sends none (the proto default, or the store's
	// SEARCH_MAX_RESULTS_DEFAULT for experiments, whose proto has none); 0: the search is not
	// paged (get-latest-versions).
	defaultSize int
}

type scope int

const (
	unscoped scope = iota
	experimentIDs
	traceLocations
)

// searches are the searches the stock client makes, by catalog operation name.
var searches = map[string]search{
	"SearchExperiments":      {list: "experiments", resource: experimentOf(idField("experiment_id", "experimentId")), defaultSize: 1000},
	"SearchRuns":             {list: "runs", resource: experimentOf(nested("info", "info", idField("experiment_id", "experimentId"))), scope: experimentIDs, defaultSize: 1000},
	"SearchLoggedModels":     {list: "models", resource: experimentOf(nested("info", "info", idField("experiment_id", "experimentId"))), scope: experimentIDs, defaultSize: 50},
	"SearchTraces":           {list: "traces", resource: experimentOf(idField("experiment_id", "experimentId")), scope: experimentIDs, defaultSize: 100},
	"SearchTracesV3":         {list: "traces", resource: experimentOf(nested("trace_location", "traceLocation", nested("mlflow_experiment", "mlflowExperiment", idField("experiment_id", "experimentId")))), scope: traceLocations, defaultSize: 100},
	"SearchRegisteredModels": {list: "registered_models", resource: modelOf(idField("name", "name")), defaultSize: 100},
	"SearchModelVersions":    {list: "model_versions", resource: modelOf(idField("name", "name")), defaultSize: 200_000},
	"GetLatestVersions":      {list: "model_versions", resource: modelOf(idField("name", "name"))},
}

// Filters reports whether the operation (a catalog name) is a search this package filters.
func Filters(operation string) bool {
	_, ok := searches[operation]
	return ok
}

// field reads one string out of a JSON object.
type field func(obj json.RawMessage) (string, bool)

// idField is a string field under its proto name or its JSON name, as MLflow writes either.
func idField(name, jsonName string) field { return nested(name, jsonName, nonEmptyString) }

// nonEmptyString reads a JSON string that is not empty.
func nonEmptyString(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) != nil || s == "" {
		return "", false
	}
	return s, true
}

// nested reads inner out of the object under name (or jsonName).
func nested(name, jsonName string, inner field) field {
	return func(obj json.RawMessage) (string, bool) {
		var m map[string]json.RawMessage
		if json.Unmarshal(obj, &m) != nil {
			return "", false
		}
		v, ok := m[name]
		if !ok {
			v, ok = m[jsonName]
		}
		if !ok {
			return "", false
		}
		return inner(v)
	}
}

func experimentOf(f field) func(json.RawMessage) (permissions.Resource, bool) {
	return func(item json.RawMessage) (permissions.Resource, bool) {
		id, ok := f(item)
		return permissions.Resource{Kind: permissions.Experiment, ID: id}, ok
	}
}

func modelOf(f field) func(json.RawMessage) (permissions.Resource, bool) {
	return func(item json.RawMessage) (permissions.Resource, bool) {
		name, ok := f(item)
		return permissions.Resource{Kind: permissions.RegisteredModel, ID: name}, ok
	}
}
