package mlflowgraphql

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Filters reports whether the answer must be filtered: the query selects a run's modelVersions.
func (j *Judged) Filters() bool { return len(j.versions) > 0 }

// FilterAnswer drops from MLflow's answer ({"data": …, "errors": …}) each model version of a
// registered model canRead refuses: a run's modelVersions are every registered model's versions
// made from the run, which reading the run does not make readable (MLflow's basic-auth middleware
// filters them the same way). canRead is asked once per model name. An answer without those lists
// comes back unchanged.
func (j *Judged) FilterAnswer(answer []byte, canRead func(model string) (bool, error)) ([]byte, error) {
	if !j.Filters() {
		return answer, nil
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(answer))
	dec.UseNumber() // numbers go back as MLflow wrote them
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("MLflow's GraphQL answer is not a JSON object: %w", err)
	}
	decided := map[string]bool{}
	readable := func(name string) (bool, error) {
		if ok, done := decided[name]; done {
			return ok, nil
		}
		ok, err := canRead(name)
		if err != nil {
			return false, err
		}
		decided[name] = ok
		return ok, nil
	}
	changed := false
	for _, vl := range j.versions {
		c, err := filterAt(doc["data"], vl.path, vl.nameKey, readable)
		if err != nil {
			return nil, err
		}
		changed = changed || c
	}
	if !changed {
		return answer, nil
	}
	return json.Marshal(doc)
}

// filterAt walks v along path (through every element of a list on the way) and filters the lists
// it ends at in place.
func filterAt(v any, path []string, nameKey string, readable func(string) (bool, error)) (bool, error) {
	switch t := v.(type) {
	case []any:
		changed := false
		for _, e := range t {
			c, err := filterAt(e, path, nameKey, readable)
			if err != nil {
				return false, err
			}
			changed = changed || c
		}
		return changed, nil
	case map[string]any:
		if len(path) == 0 {
			return false, nil
		}
		next, ok := t[path[0]]
		if !ok {
			return false, nil
		}
		if len(path) > 1 {
			return filterAt(next, path[1:], nameKey, readable)
		}
		list, ok := next.([]any)
		if !ok {
			return false, nil // null: nothing listed
		}
		kept := make([]any, 0, len(list))
		for _, e := range list {
			m, _ := e.(map[string]any)
			name, _ := m[nameKey].(string)
			ok := false
			if name != "" {
				var err error
				if ok, err = readable(name); err != nil {
					return false, err
				}
			}
			if ok {
				kept = append(kept, e)
			}
		}
		t[path[0]] = kept
		return len(kept) != len(list), nil
	}
	return false, nil
}
