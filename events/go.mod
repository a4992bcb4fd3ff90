module github.com/hokusai-protocol/registry-gateway/events

go 1.26.0

require (
	github.com/google/uuid v1.6.0
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/text v0.17.0 // indirect
)
