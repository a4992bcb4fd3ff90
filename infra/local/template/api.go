package template

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiGatewayTimeout is API Gateway's default integration timeout.
const apiGatewayTimeout = 29 * time.Second

// apiBuilder assembles the one REST API from its resources, which the template lists separately
// and links by Ref.
type apiBuilder struct {
	p     *parser
	api   *RestAPI
	paths map[string]string // AWS::ApiGateway::Resource logical id → full path
	stage string            // logical id of the stage read, to refuse a second one
}

func (p *parser) addAPI(m *Model) error {
	var apis []string
	for _, id := range p.ids {
		if p.resources[id].Type == typeRestAPI {
			apis = append(apis, id)
		}
	}
	switch len(apis) {
	case 0:
		return nil
	case 1:
	default:
		return fmt.Errorf("the harness serves one REST API, the template has %d: %s", len(apis), strings.Join(apis, ", "))
	}
	b := &apiBuilder{
		p: p,
		api: &RestAPI{
			LogicalID:        apis[0],
			Authorizers:      map[string]*Authorizer{},
			GatewayResponses: map[string]*GatewayResponse{},
		},
		paths: map[string]string{},
	}
	// Authorizers before methods, which point at them.
	steps := []struct {
		typ string
		add func(*resource) error
	}{
		{typeRestAPI, b.addRestAPI},
		{typeAuthorizer, b.addAuthorizer},
		{typeMethod, b.addRoute},
		{typeStage, b.addStage},
		{typeGatewayResponse, b.addGatewayResponse},
	}
	for _, s := range steps {
		if err := p.each(b.ofAPI(s.add), s.typ); err != nil {
			return err
		}
	}
	slices.SortFunc(b.api.Routes, func(x, y *Route) int {
		return cmp.Or(cmp.Compare(x.Path, y.Path), cmp.Compare(x.Method, y.Method))
	})
	m.API = b.api
	return nil
}

// ofAPI checks that a resource belongs to the REST API before add reads it. The template has only
// that one, so anything else points outside the template.
func (b *apiBuilder) ofAPI(add func(*resource) error) func(*resource) error {
	return func(r *resource) error {
		if r.Type == typeRestAPI {
			return add(r)
		}
		if id, attr, ok := refTo(r.Properties["RestApiId"]); !ok || attr != "" || id != b.api.LogicalID {
			return fmt.Errorf("RestApiId: want a Ref to %s", b.api.LogicalID)
		}
		return add(r)
	}
}

func (b *apiBuilder) addRestAPI(r *resource) error {
	// Routes defined in an OpenAPI body have no Method resources to read.
	for _, key := range []string{"Body", "BodyS3Location"} {
		if _, ok := r.Properties[key]; ok {
			return at(key, errors.New("REST APIs defined by OpenAPI are not supported locally"))
		}
	}
	types, err := b.p.props(r).strs("BinaryMediaTypes")
	// API Gateway's patch syntax escapes "/" as "~1", and templates copied from it keep that.
	for i, t := range types {
		types[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
	}
	b.api.BinaryMediaTypes = types
	return err
}

// path is the full path of the API resource that ref points at: Fn::GetAtt [RestApi,
// RootResourceId] is "/", {"Ref": resource} is its parent's path and its PathPart.
func (b *apiBuilder) path(ref any, seen map[string]bool) (string, error) {
	id, attr, ok := refTo(ref)
	switch {
	case !ok:
		return "", fmt.Errorf("want a Ref to an %s or Fn::GetAtt %s.RootResourceId, got %s", typeAPIResource, b.api.LogicalID, kind(ref))
	case attr == "RootResourceId" && id == b.api.LogicalID:
		return "/", nil
	case attr != "":
		return "", fmt.Errorf("Fn::GetAtt %s.%s is no API resource", id, attr)
	}
	if path, ok := b.paths[id]; ok {
		return path, nil
	}
	r, ok := b.p.resources[id]
	if !ok || r.Type != typeAPIResource {
		return "", fmt.Errorf("%s is no %s of this template", id, typeAPIResource)
	}
	if seen[id] {
		return "", fmt.Errorf("resource %s is its own ancestor", id)
	}
	seen[id] = true
	part, err := b.p.props(r).need("PathPart")
	if err != nil {
		return "", fmt.Errorf("resource %s: %w", id, err)
	}
	parent, err := b.path(r.Properties["ParentId"], seen)
	if err != nil {
		return "", fmt.Errorf("resource %s: %w", id, at("ParentId", err))
	}
	path := parent + "/" + part
	if parent == "/" {
		path = "/" + part
	}
	b.paths[id] = path
	return path, nil
}

func (b *apiBuilder) addRoute(r *resource) error {
	pr := b.p.props(r)
	path, err := b.path(r.Properties["ResourceId"], map[string]bool{})
	if err != nil {
		return at("ResourceId", err)
	}
	method, err := pr.need("HttpMethod")
	if err != nil {
		return err
	}
	route := &Route{Path: path, Method: strings.ToUpper(method)}
	for _, other := range b.api.Routes {
		if other.Path == route.Path && other.Method == route.Method {
			return fmt.Errorf("a second %s %s", route.Method, route.Path)
		}
	}
	if route.AuthorizationType, err = pr.strOr("AuthorizationType", "NONE"); err != nil {
		return err
	}
	if route.Authorizer, err = b.routeAuthorizer(r, route.AuthorizationType); err != nil {
		return err
	}
	integration, ok, err := pr.obj("Integration")
	if err == nil && !ok {
		err = errors.New("no Integration")
	}
	if err != nil {
		return err
	}
	if route.Integration, err = b.integration(integration); err != nil {
		return err
	}
	b.api.Routes = append(b.api.Routes, route)
	return nil
}

func (b *apiBuilder) routeAuthorizer(r *resource, authType string) (*Authorizer, error) {
	if authType != "CUSTOM" {
		return nil, nil
	}
	ref, ok := r.Properties["AuthorizerId"]
	if !ok {
		return nil, errors.New("AuthorizationType CUSTOM without an AuthorizerId")
	}
	id, attr, ok := refTo(ref)
	a := b.api.Authorizers[id]
	if !ok || attr != "" || a == nil {
		return nil, at("AuthorizerId", fmt.Errorf("want a Ref to an %s of this API", typeAuthorizer))
	}
	return a, nil
}

func (b *apiBuilder) integration(pr props) (Integration, error) {
	typ, err := pr.need("Type")
	if err != nil {
		return Integration{}, err
	}
	ms, err := pr.integer("TimeoutInMillis", int(apiGatewayTimeout/time.Millisecond))
	if err != nil {
		return Integration{}, err
	}
	in := Integration{Type: typ, Timeout: time.Duration(ms) * time.Millisecond}
	switch typ {
	case "AWS_PROXY":
		uri, err := pr.need("Uri")
		if err != nil {
			return in, err
		}
		var stream bool
		if in.Function, stream, err = b.p.lambdaURI(uri); err != nil {
			return in, pr.where("Uri", err)
		}
		mode, err := pr.strOr("ResponseTransferMode", "BUFFERED")
		in.Stream = stream || mode == "STREAM"
		return in, err
	case "MOCK":
		in.Mock, err = mockResponse(pr)
		return in, err
	}
	return in, pr.where("Type", fmt.Errorf("integration type %s is not supported locally (only AWS_PROXY and MOCK)", typ))
}

// lambdaURI reads the function out of an API Gateway Lambda URI,
// arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations, or
// …/2021-11-15/functions/<function ARN>/response-streaming-invocations for streamed responses.
func (p *parser) lambdaURI(uri string) (fn string, stream bool, err error) {
	_, rest, ok := strings.Cut(uri, ":lambda:path/")
	if ok {
		_, rest, ok = strings.Cut(rest, "/functions/")
	}
	slash := strings.LastIndexByte(rest, '/')
	if !ok || slash < 0 {
		return "", false, fmt.Errorf("%q is no Lambda invocation URI", uri)
	}
	switch rest[slash+1:] {
	case "invocations":
	case "response-streaming-invocations":
		stream = true
	default:
		return "", false, fmt.Errorf("%q is no Lambda invocation URI", uri)
	}
	fn, err = p.invocable(rest[:slash])
	return fn, stream, err
}

// mockResponse is a MOCK integration's answer, from its first integration response.
func mockResponse(pr props) (*MockResponse, error) {
	responses, err := pr.objs("IntegrationResponses")
	if err != nil {
		return nil, err
	}
	if len(responses) == 0 {
		// API Gateway answers 500 when no integration response matches.
		return &MockResponse{Status: 500, Headers: map[string]string{}}, nil
	}
	first := responses[0]
	status, err := first.need("StatusCode")
	if err != nil {
		return nil, err
	}
	code, err := strconv.Atoi(status)
	if err != nil {
		return nil, first.where("StatusCode", fmt.Errorf("%q is no status code", status))
	}
	headers, err := staticHeaders(first, "ResponseParameters", "method.response.header.")
	if err != nil {
		return nil, err
	}
	return &MockResponse{Status: code, Headers: headers}, nil
}

// staticHeaders reads the "<prefix><Header>": "'value'" entries of a parameter mapping. Entries
// mapped from the request or the integration (unquoted) have no static value and are skipped.
func staticHeaders(pr props, key, prefix string) (map[string]string, error) {
	params, err := pr.strMap(key)
	if err != nil {
		return nil, err
	}
	headers := map[string]string{}
	for k, v := range params {
		name, ok := strings.CutPrefix(k, prefix)
		if !ok || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
			continue
		}
		headers[name] = v[1 : len(v)-1]
	}
	return headers, nil
}

func (b *apiBuilder) addAuthorizer(r *resource) error {
	pr := b.p.props(r)
	a := &Authorizer{LogicalID: r.ID}
	var err error
	if a.Type, err = pr.need("Type"); err != nil {
		return err
	}
	if a.Type != "TOKEN" && a.Type != "REQUEST" {
		return pr.where("Type", fmt.Errorf("authorizer type %s is not supported locally (only TOKEN and REQUEST)", a.Type))
	}
	if a.Name, _, err = pr.str("Name"); err != nil {
		return err
	}
	uri, err := pr.need("AuthorizerUri")
	if err != nil {
		return err
	}
	if a.Function, _, err = b.p.lambdaURI(uri); err != nil {
		return pr.where("AuthorizerUri", err)
	}
	// REQUEST authorizers may have none: then every request reaches the function, uncached.
	source, _, err := pr.str("IdentitySource")
	if err != nil {
		return err
	}
	if a.IdentitySources, err = identitySources(source); err != nil {
		return pr.where("IdentitySource", err)
	}
	// API Gateway caches results for 300 s unless told otherwise; 0 turns caching off.
	if a.TTL, err = pr.seconds("AuthorizerResultTtlInSeconds", 300); err != nil {
		return err
	}
	b.api.Authorizers[r.ID] = a
	return nil
}

// identitySources parses "method.request.header.Authorization, method.request.querystring.key".
func identitySources(s string) ([]IdentitySource, error) {
	var out []IdentitySource
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		src, err := identitySource(part)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

// identityPrefixes map identity source expressions to kinds. For an identity source only presence
// matters, and a multi-value header or query string is present exactly when the single-value one is.
var identityPrefixes = []struct{ prefix, kind string }{
	{"method.request.header.", "header"},
	{"method.request.multivalueheader.", "header"},
	{"method.request.querystring.", "querystring"},
	{"method.request.multivaluequerystring.", "querystring"},
	{"context.", "context"},
	{"stageVariables.", "stageVariables"},
}

func identitySource(s string) (IdentitySource, error) {
	for _, p := range identityPrefixes {
		if name, ok := strings.CutPrefix(s, p.prefix); ok && name != "" {
			return IdentitySource{Kind: p.kind, Name: name}, nil
		}
	}
	return IdentitySource{}, fmt.Errorf("unknown identity source %q", s)
}

func (b *apiBuilder) addStage(r *resource) error {
	if b.stage != "" {
		return fmt.Errorf("a second stage of %s after %s; the harness serves one", b.api.LogicalID, b.stage)
	}
	b.stage = r.ID
	pr := b.p.props(r)
	var err error
	if b.api.StageName, err = pr.need("StageName"); err != nil {
		return err
	}
	settings, err := pr.objs("MethodSettings")
	if err != nil {
		return err
	}
	for _, s := range settings {
		method, err1 := s.strOr("HttpMethod", "")
		path, err2 := s.strOr("ResourcePath", "")
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		// Only the stage-wide default; per-method overrides are not modelled.
		if method != "*" || path != "/*" {
			continue
		}
		if b.api.ThrottleRate, err = s.float("ThrottlingRateLimit"); err != nil {
			return err
		}
		if b.api.ThrottleBurst, err = s.integer("ThrottlingBurstLimit", 0); err != nil {
			return err
		}
	}
	return nil
}

func (b *apiBuilder) addGatewayResponse(r *resource) error {
	pr := b.p.props(r)
	typ, err := pr.need("ResponseType")
	if err != nil {
		return err
	}
	if _, dup := b.api.GatewayResponses[typ]; dup {
		return fmt.Errorf("a second gateway response %s", typ)
	}
	resp := &GatewayResponse{Type: typ}
	// Without a StatusCode the response keeps the status of the error it answers.
	if status, ok, err := pr.str("StatusCode"); err != nil {
		return err
	} else if ok {
		if resp.Status, err = strconv.Atoi(status); err != nil {
			return pr.where("StatusCode", fmt.Errorf("%q is no status code", status))
		}
	}
	if resp.Headers, err = staticHeaders(pr, "ResponseParameters", "gatewayresponse.header."); err != nil {
		return err
	}
	if resp.Templates, err = pr.strMap("ResponseTemplates"); err != nil {
		return err
	}
	if resp.Templates == nil {
		resp.Templates = map[string]string{}
	}
	b.api.GatewayResponses[typ] = resp
	return nil
}
