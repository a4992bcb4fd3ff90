// Command subscriber is what a subscriber's own module does with the contract: it reads one event
// as a rule's target receives it on stdin, decodes it, validates its detail against the contract's
// schema and checks its de-duplication id. TestSubscriberModule builds it in a module of its own.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/events/eventschema"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	msg, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	var ev struct {
		DetailType string `json:"detail-type"`
		Source     string `json:"source"`
	}
	if err := json.Unmarshal(msg, &ev); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	// The schema judges the detail as sent, not as it decoded into Go.
	var raw struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(msg, &raw); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if ev.Source != events.Source {
		return fmt.Errorf("source %q, not %q", ev.Source, events.Source)
	}
	if err := eventschema.Validate(ev.DetailType, raw.Detail); err != nil {
		return err
	}
	id, want, err := eventIDs(ev.DetailType, msg)
	if err != nil {
		return err
	}
	if id != want {
		return fmt.Errorf("event_id %s, want %s", id, want)
	}
	fmt.Println(ev.DetailType, id)
	return nil
}

// eventIDs returns the event's event_id and the one its detail derives: a registry change's
// detail is events.RegistryChange, a registration's events.Detail.
func eventIDs(detailType string, msg []byte) (got, want string, err error) {
	if events.IsRegistryDetailType(detailType) {
		var ev events.RegistryEvent
		if err := json.Unmarshal(msg, &ev); err != nil {
			return "", "", fmt.Errorf("event: %w", err)
		}
		return ev.Detail.EventID, events.NewRegistryChange(detailType, ev.Detail).EventID, nil
	}
	var ev events.Event
	if err := json.Unmarshal(msg, &ev); err != nil {
		return "", "", fmt.Errorf("event: %w", err)
	}
	d := ev.Detail
	return d.EventID, events.EventID(detailType, d.ModelID, d.MLflowRunID, d.ModelVersion), nil
}
