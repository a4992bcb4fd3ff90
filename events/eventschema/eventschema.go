// Package eventschema validates event details against the contract's JSON Schemas
// (events.Schema). It is apart from package events so that importing the contract types does not
// pull a JSON Schema validator into every subscriber and function.
package eventschema

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hokusai-protocol/registry-gateway/events"
)

// ErrUnknownDetailType is returned for a detail type the contract does not define.
var ErrUnknownDetailType = errors.New("unknown detail type")

// compiled holds the schemas, compiled once: compiling costs far more than validating.
var compiled = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	// Draft 2020-12 treats format as an annotation; the contract means it (date-time, uuid).
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for _, dt := range events.AllDetailTypes() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(events.Schema(dt)))
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", dt, err)
		}
		loc := dt + ".json"
		if err := c.AddResource(loc, doc); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", dt, err)
		}
		if out[dt], err = c.Compile(loc); err != nil {
			return nil, fmt.Errorf("schema of %s: %w", dt, err)
		}
	}
	return out, nil
})

// Validate checks that detail (JSON) is a valid detail of detailType. The error names every
// violation with its location in the detail.
func Validate(detailType string, detail []byte) error {
	schemas, err := compiled()
	if err != nil {
		return err
	}
	s, ok := schemas[detailType]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownDetailType, detailType)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(detail))
	if err != nil {
		return fmt.Errorf("%s detail is not JSON: %w", detailType, err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("%s detail: %w", detailType, err)
	}
	return nil
}
