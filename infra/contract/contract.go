// Package contract is the configuration contract between the stack and the functions: for each
// function, the configuration type its main loads at start (through config.Load, as
// startup.Config does) and the variables that type reads, derived from its env tags. The stack's
// tests and the local harness's check that every environment they give a function loads, and
// holds nothing the function does not read.
package contract

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authorizer"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/keysapi"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/signin"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/outbox"
	"github.com/hokusai-protocol/registry-gateway/shared/delivery/webhook"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit/ship"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/health"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/registration"
)

// Function is one function's side of the contract.
type Function struct {
	// Load loads the function's configuration from environ exactly as the function does at start.
	Load func(environ map[string]string) error
	// Vars are the variables the configuration reads; Types the Go type each is parsed as.
	Vars  []string
	Types map[string]reflect.Type
}

func of[T any]() Function {
	return Function{
		Load:  func(environ map[string]string) error { _, err := config.Load[T](environ); return err },
		Vars:  config.Vars[T](),
		Types: config.VarTypes[T](),
	}
}

// Functions maps each function (its directory under functions/) to its contract. A test keeps it
// complete.
var Functions = map[string]Function{
	"audit":       of[ship.Config](),
	"authorizer":  of[authorizer.Config](),
	"health":      of[health.Config](),
	"keys":        of[keysapi.Config](),
	"mlflowproxy": of[mlflowproxy.Config](),
	"outbox":      of[outbox.Config](),
	"register":    of[registration.Config](),
	"uisession":   of[signin.Config](),
	"webhook":     of[webhook.Config](),
}

// Runtime are the variables Lambda (or, locally, the harness in its place) sets for the AWS SDK
// (shared/platform/awsenv), which no configuration type declares.
var Runtime = []string{
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_ENDPOINT_URL", "AWS_EC2_METADATA_DISABLED",
}

// Check loads function's configuration from environ and fails on anything it cannot parse or
// does not read. The error names the function and every offending variable, never a value.
func Check(function string, environ map[string]string) error {
	fn, ok := Functions[function]
	if !ok {
		return fmt.Errorf("%s: no such function in the contract", function)
	}
	var errs []error
	if err := fn.Load(environ); err != nil {
		errs = append(errs, err)
	}
	var unread []string
	for k := range environ {
		if !slices.Contains(fn.Vars, k) && !slices.Contains(Runtime, k) {
			unread = append(unread, k)
		}
	}
	if len(unread) > 0 {
		slices.Sort(unread)
		errs = append(errs, fmt.Errorf("set but not read: %s", strings.Join(unread, ", ")))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", function, err)
	}
	return nil
}

// SharedTypes fails when two functions parse one variable as different Go types: then a value
// could be valid for one and malformed for the other.
func SharedTypes() error {
	seen := map[string]string{} // variable → the function that first declared it
	var errs []string
	for _, name := range slices.Sorted(maps.Keys(Functions)) {
		for v, typ := range Functions[name].Types {
			first, ok := seen[v]
			if !ok {
				seen[v] = name
				continue
			}
			if other := Functions[first].Types[v]; other != typ {
				errs = append(errs, fmt.Sprintf("%s is %s in %s but %s in %s", v, other, first, typ, name))
			}
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
