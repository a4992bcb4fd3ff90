package events

import (
	"embed"
	"encoding/json"
	"fmt"
	"slices"
)

// The contract files beside the code: one JSON Schema (draft 2020-12) of the detail per detail
// type (AllDetailTypes), and one example event per detail type, as a rule's target receives it.
//
//go:embed schemas/*.json examples/*.json
var files embed.FS

// Schema is the JSON Schema (draft 2020-12) of detailType's detail, or nil for an unknown type.
func Schema(detailType string) []byte { return file("schemas", detailType) }

// Example is an example event of detailType as EventBridge delivers it, or nil for an unknown type.
func Example(detailType string) []byte { return file("examples", detailType) }

func file(dir, detailType string) []byte {
	if !slices.Contains(AllDetailTypes(), detailType) {
		return nil
	}
	b, err := files.ReadFile(dir + "/" + detailType + ".json")
	if err != nil {
		panic(err) // go:embed guarantees the files are there; a missing one is a build mistake
	}
	return b
}

// RegistrySchema is detailType's schema as an EventBridge schema registry takes it (type
// JSONSchemaDraft4): the whole event, envelope and detail, in JSON Schema draft 4. The registry
// accepts only draft 4 and OpenAPI 3, so this is derived from Schema rather than kept by hand:
// const becomes a one-value enum and formats draft 4 does not know are dropped.
func RegistrySchema(detailType string) ([]byte, error) {
	src := Schema(detailType)
	if src == nil {
		return nil, fmt.Errorf("unknown detail type %q", detailType)
	}
	var detail map[string]any
	if err := json.Unmarshal(src, &detail); err != nil {
		return nil, fmt.Errorf("schema of %s: %w", detailType, err)
	}
	delete(detail, "$schema")
	delete(detail, "$id")
	str := map[string]any{"type": "string"}
	event := map[string]any{
		"$schema":                     "http://json-schema.org/draft-04/schema#",
		"title":                       detailType,
		"description":                 detail["description"],
		"x-amazon-events-source":      Source,
		"x-amazon-events-detail-type": detailType,
		"type":                        "object",
		"required":                    []string{"detail-type", "source", "detail"},
		"properties": map[string]any{
			"version":     str,
			"id":          str,
			"detail-type": map[string]any{"enum": []string{detailType}},
			"source":      map[string]any{"enum": []string{Source}},
			"account":     str,
			"time":        map[string]any{"type": "string", "format": "date-time"},
			"region":      str,
			"resources":   map[string]any{"type": "array", "items": str},
			"detail":      toDraft4(detail),
		},
	}
	return json.MarshalIndent(event, "", "  ")
}

// draft4Formats are the formats draft 4 defines; others would be unknown keywords to the registry.
var draft4Formats = []string{"date-time", "email", "hostname", "ipv4", "ipv6", "uri"}

// toDraft4 rewrites the keywords our schemas use that draft 4 lacks. It handles exactly what the
// schemas contain; the test proves the result still accepts the examples and rejects bad details.
func toDraft4(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			switch {
			case k == "const":
				out["enum"] = []any{x}
			case k == "format" && !slices.Contains(draft4Formats, fmt.Sprint(x)):
			default:
				out[k] = toDraft4(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = toDraft4(x)
		}
		return out
	}
	return v
}
