package template

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

func (p *parser) addFunctions(m *Model) error {
	return p.each(func(r *resource) error {
		fn, err := p.function(r)
		if err != nil || fn == nil {
			return err
		}
		m.Functions[r.ID] = fn
		p.runnable[r.ID] = true
		return nil
	}, typeFunction)
}

// function reads r, or returns nil when the harness cannot run it: only code that cdk synth
// staged as an asset folder has a bootstrap on this machine. Functions with inline code (the
// providers of CDK custom resources) are left out, and are an error only if something invokes them.
func (p *parser) function(r *resource) (*Function, error) {
	asset := assetPath(r)
	if asset == "" {
		return nil, nil
	}
	if !filepath.IsAbs(asset) {
		asset = filepath.Join(p.dir, asset)
	}
	pr := p.props(r)
	name, err := p.name(r.ID)
	if err == nil {
		err = p.claim("function", name, r.ID)
	}
	if err != nil {
		return nil, err
	}
	env, err := p.environment(pr)
	if err != nil {
		return nil, err
	}
	// Lambda's defaults when the template leaves them out.
	timeout, err := pr.seconds("Timeout", 3)
	if err != nil {
		return nil, err
	}
	memory, err := pr.integer("MemorySize", 128)
	if err != nil {
		return nil, err
	}
	logGroup, err := p.functionLogGroup(pr, name)
	if err != nil {
		return nil, err
	}
	return &Function{
		LogicalID:    r.ID,
		LogGroup:     logGroup,
		Name:         shortName(r),
		FunctionName: name,
		AssetDir:     asset,
		Env:          env,
		Timeout:      timeout,
		MemoryMB:     memory,
	}, nil
}

// assetPath is the folder cdk synth staged r's code in, or "" when r's code is not such a folder
// (inline code, a container image, an object in a bucket).
func assetPath(r *resource) string {
	path, _ := r.Metadata["aws:asset:path"].(string)
	if prop, ok := r.Metadata["aws:asset:property"].(string); ok && prop != "Code" {
		return ""
	}
	if pkg, _ := r.Properties["PackageType"].(string); pkg == "Image" {
		return ""
	}
	return path
}

// shortName is the construct id under the stack, lower-cased and without a trailing "Function":
// "<Stack>/HealthFunction/Lambda/Resource" → "health".
func shortName(r *resource) string {
	id := r.ID
	if path, ok := r.Metadata["aws:cdk:path"].(string); ok {
		if segs := strings.Split(path, "/"); len(segs) > 1 && segs[1] != "" {
			id = segs[1]
		}
	}
	if trimmed := strings.TrimSuffix(id, "Function"); trimmed != "" {
		id = trimmed
	}
	return strings.ToLower(id)
}

// environment is Environment.Variables resolved, with the overrides applied to the variables
// the stack gave the function.
func (p *parser) environment(pr props) (map[string]string, error) {
	env := map[string]string{}
	e, ok, err := pr.obj("Environment")
	if err != nil || !ok {
		return env, err
	}
	vars, err := e.strMap("Variables")
	if err != nil {
		return nil, err
	}
	for k, v := range vars {
		if o, ok := p.opts.EnvOverrides[k]; ok {
			v = o
		}
		env[k] = v
	}
	return env, nil
}

// invocable maps a function name or ARN, as an integration, authorizer, target or event source
// mapping gives it, to the logical id of a function the harness can run.
func (p *parser) invocable(ref string) (string, error) {
	id, ok := p.owner(typeFunction, ref)
	if !ok {
		return "", fmt.Errorf("%q is no function of this stack", ref)
	}
	if !p.runnable[id] {
		return "", fmt.Errorf("function %s has no asset (aws:asset:path) the harness could run", id)
	}
	return id, nil
}

func (p *parser) addEventSourceMappings(m *Model) error {
	return p.each(func(r *resource) error {
		esm, err := p.eventSourceMapping(r)
		if err != nil {
			return err
		}
		m.EventSourceMappings = append(m.EventSourceMappings, esm)
		return nil
	}, typeEventSource)
}

func (p *parser) eventSourceMapping(r *resource) (*EventSourceMapping, error) {
	pr := p.props(r)
	fnRef, err := pr.need("FunctionName")
	if err != nil {
		return nil, err
	}
	fn, err := p.invocable(fnRef)
	if err != nil {
		return nil, pr.where("FunctionName", err)
	}
	src, err := pr.need("EventSourceArn")
	if err != nil {
		return nil, err
	}
	queue, ok := p.owner(typeQueue, src)
	if !ok {
		return nil, pr.where("EventSourceArn", fmt.Errorf("%q is no SQS queue of this stack; only those are supported locally", src))
	}
	esm := &EventSourceMapping{LogicalID: r.ID, Function: fn, Queue: queue}
	if esm.BatchSize, err = pr.integer("BatchSize", 10); err != nil {
		return nil, err
	}
	types, err := pr.strs("FunctionResponseTypes")
	if err != nil {
		return nil, err
	}
	esm.ReportBatchItemFailures = slices.Contains(types, "ReportBatchItemFailures")
	if esm.MaxBatchingWindow, err = pr.seconds("MaximumBatchingWindowInSeconds", 0); err != nil {
		return nil, err
	}
	if esm.Enabled, err = pr.boolean("Enabled", true); err != nil {
		return nil, err
	}
	return esm, nil
}
