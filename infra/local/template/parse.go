package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Options tunes how a template maps onto the local machine.
type Options struct {
	// StackName names the stack. Load defaults it to the template's file name
	// (<stack>.template.json); Parse to the first segment of the resources' aws:cdk:path.
	StackName string
	// Physical returns the local physical name for a resource that declares none; nil means
	// DefaultPhysicalName. Names a resource declares (TableName, QueueName, …) always win.
	Physical func(stackName, logicalID, resourceType string) string
	// EndpointURL is the local AWS endpoint (moto), used to form SQS queue URLs:
	// <EndpointURL>/<AccountID>/<queue name>. Empty means the regional SQS endpoint.
	EndpointURL string
	// EnvOverrides replace resolved function environment variables by name (e.g. MLFLOW_URL → the
	// local MLflow URL). They apply only to variables a function already has: a function never gets
	// a variable the stack did not give it.
	EnvOverrides map[string]string
}

// Resource types the model is built from.
const (
	typeRestAPI            = "AWS::ApiGateway::RestApi"
	typeAPIResource        = "AWS::ApiGateway::Resource"
	typeMethod             = "AWS::ApiGateway::Method"
	typeAuthorizer         = "AWS::ApiGateway::Authorizer"
	typeStage              = "AWS::ApiGateway::Stage"
	typeGatewayResponse    = "AWS::ApiGateway::GatewayResponse"
	typeFunction           = "AWS::Lambda::Function"
	typeEventSource        = "AWS::Lambda::EventSourceMapping"
	typeTable              = "AWS::DynamoDB::Table"
	typeGlobalTable        = "AWS::DynamoDB::GlobalTable"
	typeBus                = "AWS::Events::EventBus"
	typeRule               = "AWS::Events::Rule"
	typeQueue              = "AWS::SQS::Queue"
	typeSecret             = "AWS::SecretsManager::Secret"
	typeTopic              = "AWS::SNS::Topic"
	typeLogGroup           = "AWS::Logs::LogGroup"
	typeSubscriptionFilter = "AWS::Logs::SubscriptionFilter"
)

// Load reads the template at templatePath. Asset folders are resolved relative to the template's
// folder, where cdk synth puts them.
func Load(templatePath string, opts Options) (*Model, error) {
	b, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, err
	}
	if opts.StackName == "" {
		opts.StackName = stackNameFromPath(templatePath)
	}
	m, err := Parse(b, filepath.Dir(templatePath), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", templatePath, err)
	}
	return m, nil
}

// stackNameFromPath is "<stack>" for ".../<stack>.template.json", as cdk synth names the file.
func stackNameFromPath(path string) string {
	base := filepath.Base(path)
	if s, ok := strings.CutSuffix(base, ".template.json"); ok {
		return s
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// Parse builds the model from the template bytes tmpl; dir is the folder asset paths are relative to.
func Parse(tmpl []byte, dir string, opts Options) (*Model, error) {
	p, err := newParser(tmpl, dir, opts)
	if err != nil {
		return nil, err
	}
	m := &Model{StackName: p.stack, Functions: map[string]*Function{}}
	// Functions come first: every later step checks that what it invokes is runnable.
	steps := []func(*Model) error{
		p.addFunctions, p.addTables, p.addBuses, p.addQueues, p.addSecrets,
		p.addRules, p.addEventSourceMappings, p.addLogGroups, p.addSubscriptionFilters, p.addAPI,
	}
	for _, step := range steps {
		if err := step(m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// resource is one entry of the template's Resources.
type resource struct {
	ID         string         `json:"-"`
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
	Metadata   map[string]any `json:"Metadata"`
	Condition  string         `json:"Condition"`
}

type parameter struct {
	Type    string `json:"Type"`
	Default any    `json:"Default"`
}

type rawTemplate struct {
	Resources  map[string]json.RawMessage `json:"Resources"`
	Parameters map[string]*parameter      `json:"Parameters"`
	Mappings   map[string]any             `json:"Mappings"`
}

// parser holds the template and the memoized physical names while the model is built.
type parser struct {
	opts      Options
	stack     string
	dir       string
	resources map[string]*resource
	ids       []string // sorted, so the model's order never depends on map iteration
	params    map[string]*parameter
	mappings  map[string]any

	memo  map[string]string
	busy  map[string]bool              // memo keys being computed, to report cycles instead of recursing forever
	index map[string]map[string]string // type → physical name, ARN or URL → logical id; built on first use

	runnable map[string]bool   // functions with a local asset
	claimed  map[string]string // namespace and physical name → logical id
}

func newParser(tmpl []byte, dir string, opts Options) (*parser, error) {
	var raw rawTemplate
	if err := decodeJSON(tmpl, &raw); err != nil {
		return nil, fmt.Errorf("decoding template: %w", err)
	}
	if len(raw.Resources) == 0 {
		return nil, errors.New("template has no resources")
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p := &parser{
		opts:      opts,
		dir:       absDir,
		resources: make(map[string]*resource, len(raw.Resources)),
		ids:       slices.Sorted(maps.Keys(raw.Resources)),
		params:    raw.Parameters,
		mappings:  raw.Mappings,
		memo:      map[string]string{},
		busy:      map[string]bool{},
		runnable:  map[string]bool{},
		claimed:   map[string]string{},
	}
	for _, id := range p.ids {
		var r *resource
		if err := decodeJSON(raw.Resources[id], &r); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		if r == nil {
			return nil, fmt.Errorf("%s: null resource", id)
		}
		r.ID = id
		p.resources[id] = r
	}
	p.stack = opts.StackName
	if p.stack == "" {
		p.stack = p.stackFromCDKPaths()
	}
	if p.stack == "" {
		return nil, errors.New("no stack name: set Options.StackName")
	}
	return p, nil
}

// decodeJSON keeps numbers as json.Number, so that they are passed on exactly as written.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// stackFromCDKPaths is the first segment of the aws:cdk:path metadata, which CDK roots at the
// stack's construct id.
func (p *parser) stackFromCDKPaths() string {
	for _, id := range p.ids {
		if path, ok := p.resources[id].Metadata["aws:cdk:path"].(string); ok {
			if stack, _, ok := strings.Cut(path, "/"); ok && stack != "" {
				return stack
			}
		}
	}
	return ""
}

// each calls fn for every resource of one of types, in logical-id order, and names the resource in
// any error. Conditions are not evaluated locally, so a conditional resource is an error rather
// than a guess at whether it exists.
func (p *parser) each(fn func(r *resource) error, types ...string) error {
	for _, id := range p.ids {
		r := p.resources[id]
		if !slices.Contains(types, r.Type) {
			continue
		}
		var err error
		if r.Condition != "" {
			err = fmt.Errorf("conditional resources (Condition %q) are not supported", r.Condition)
		} else {
			err = fn(r)
		}
		if err != nil {
			return fmt.Errorf("%s (%s): %w", id, r.Type, err)
		}
	}
	return nil
}

// props returns r's Properties for reading.
func (p *parser) props(r *resource) props { return props{p: p, m: r.Properties} }

// claim records that id has the physical name name in namespace. CloudFormation refuses to create
// a second resource with a taken name; locally the two would silently become one.
func (p *parser) claim(namespace, name, id string) error {
	key := namespace + "\x00" + name
	if other, ok := p.claimed[key]; ok {
		return fmt.Errorf("physical name %q is also that of %s", name, other)
	}
	p.claimed[key] = id
	return nil
}
