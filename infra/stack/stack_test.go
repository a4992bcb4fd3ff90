package stack_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/hokusai-protocol/registry-gateway/events"
	"github.com/hokusai-protocol/registry-gateway/infra/stack"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/mlflowproxy"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// synth builds env's stack with cdk-nag applied, as the app does, and returns the template as
// plain JSON plus the nag findings.
type synthesized struct {
	tmpl     assertions.Template
	json     map[string]any
	errors   []string
	warnings []string
}

var functionNames = []string{"health", "authorizer", "keys", "mlflowproxy", "register", "outbox", "audit", "uisession", "webhook"}

// deployed are the functions of a stack without a webhook URL.
var deployed = functionNames[:8]

func synth(t *testing.T, env string, overrides map[string]string) synthesized {
	t.Helper()
	buildDir := t.TempDir()
	for _, fn := range functionNames {
		// The stack packages whatever is there; the binary's content does not matter to the template.
		if err := os.MkdirAll(filepath.Join(buildDir, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(buildDir, fn, "bootstrap"), []byte(fn), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := stack.Load(env, func(k string) (string, bool) { v, ok := overrides[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(nil)
	s := stack.New(app, stack.StackName(env), stack.Props{Env: cfg, BuildDir: buildDir})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	tmpl := assertions.Template_FromStack(s.Stack, nil)
	raw, err := json.Marshal(tmpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	out := synthesized{tmpl: tmpl}
	if err := json.Unmarshal(raw, &out.json); err != nil {
		t.Fatal(err)
	}
	ann := assertions.Annotations_FromStack(s.Stack)
	for _, m := range *ann.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*"))) {
		out.errors = append(out.errors, *m.Id+": "+fmtAny(m.Entry.Data))
	}
	for _, m := range *ann.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*"))) {
		out.warnings = append(out.warnings, *m.Id+": "+fmtAny(m.Entry.Data))
	}
	return out
}

func fmtAny(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// resources returns the template's resources of one type, by logical id.
func (s synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == typ {
			props, _ := res["Properties"].(map[string]any)
			out[id] = props
		}
	}
	return out
}

func TestNagCleanInEveryEnvironment(t *testing.T) {
	for _, env := range stack.Environments {
		t.Run(env, func(t *testing.T) {
			s := synth(t, env, nil)
			if len(s.errors) > 0 || len(s.warnings) > 0 {
				t.Fatalf("cdk-nag findings:\nerrors:\n  %s\nwarnings:\n  %s",
					strings.Join(s.errors, "\n  "), strings.Join(s.warnings, "\n  "))
			}
		})
	}
}

func TestFunctionsAreArmProvidedAL2023WithTracing(t *testing.T) {
	s := synth(t, "dev", nil)
	fns := s.resources("AWS::Lambda::Function")
	if len(fns) != len(deployed) {
		t.Fatalf("got %d functions, want %d (no helper functions may creep in): %v", len(fns), len(deployed), keys(fns))
	}
	s.tmpl.AllResourcesProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"TracingConfig": map[string]any{"Mode": "Active"},
		"LoggingConfig": assertions.Match_ObjectLike(&map[string]any{"LogFormat": "JSON"}),
	})
	// A function never outlives the gateway's 29 s, except the MLflow proxy's streamed downloads.
	for _, f := range fns {
		want := 29.0
		if f["Description"] == "Hokusai registry gateway: mlflowproxy" {
			want = 900
		}
		if f["Timeout"] != want {
			t.Errorf("%v: timeout %v, want %v", f["Description"], f["Timeout"], want)
		}
	}
}

func TestMLflowProxyRoutes(t *testing.T) {
	s := synth(t, "dev", nil)
	parts := map[string]string{} // logical id → full path
	resources := s.resources("AWS::ApiGateway::Resource")
	var path func(id string) string
	path = func(id string) string {
		r := resources[id]
		parent, ok := r["ParentId"].(map[string]any)["Ref"].(string)
		if !ok {
			return r["PathPart"].(string)
		}
		return path(parent) + "/" + r["PathPart"].(string)
	}
	for id := range resources {
		parts[id] = path(id)
	}
	// Every route to the proxy streams (its function is a streaming handler): the mounts, ANY on
	// {proxy+}, and the bare-host routes, one method each.
	var mounts, routes []string
	for _, m := range s.resources("AWS::ApiGateway::Method") {
		ref, _ := m["ResourceId"].(map[string]any)["Ref"].(string)
		mount := strings.HasSuffix(parts[ref], "{proxy+}") && m["HttpMethod"] == "ANY"
		integ, _ := m["Integration"].(map[string]any)
		if !mount && integ["ResponseTransferMode"] != "STREAM" {
			continue
		}
		if mount {
			mounts = append(mounts, strings.TrimSuffix(parts[ref], "/{proxy+}"))
		} else {
			routes = append(routes, m["HttpMethod"].(string)+" "+parts[ref])
		}
		if m["AuthorizationType"] != "CUSTOM" || integ["ResponseTransferMode"] != "STREAM" || integ["Type"] != "AWS_PROXY" ||
			!strings.Contains(fmtAny(integ["Uri"]), "response-streaming-invocations") {
			t.Errorf("%s: %v", parts[ref], m)
		}
	}
	slices.Sort(mounts)
	want := append([]string{}, stack.MLflowMounts...)
	// The UI's ajax-api calls under each tracking-URI mount (behind the UI authorizer).
	for _, m := range uisession.Mounts {
		want = append(want, uisession.MountPath(m, "ajax-api"))
	}
	slices.Sort(want)
	if !slices.Equal(mounts, want) {
		t.Errorf("mounts %v, want %v", mounts, want)
	}
	// The other streamed routes: the bare-host MLflowRoutes, and MLflow's UI where the client's
	// links point (<tracking URI>/#/experiments/…): under each tracking-URI mount its page, files
	// and artifact views, which the page names relative to itself (uisession.UIRoutes).
	var wantRoutes []string
	for _, r := range stack.MLflowRoutes {
		wantRoutes = append(wantRoutes, r.Method+" "+r.Path)
	}
	for _, m := range uisession.Mounts {
		for _, r := range uisession.UIRoutes {
			if r.Method != "ANY" {
				wantRoutes = append(wantRoutes, r.Method+" "+uisession.MountPath(m, r.Path))
			}
		}
	}
	slices.Sort(routes)
	slices.Sort(wantRoutes)
	if !slices.Equal(routes, wantRoutes) {
		t.Errorf("streamed MLflow routes %v, want %v", routes, wantRoutes)
	}
	// The proxy serves each of those routes, for its method: a route opened here that the proxy
	// refused would answer differently from the mounts. A {proxy+} is tried with a path the UI asks.
	rt := mlflowproxy.NewRouter(&url.URL{Scheme: "http", Host: "mlflow"}, false)
	sample := strings.NewReplacer("static-files/{proxy+}", "static-files/static/js/main.js",
		"ajax-api/{proxy+}", "ajax-api/2.0/mlflow/experiments/search")
	type served struct{ method, path string }
	var check []served
	for _, r := range stack.MLflowRoutes {
		check = append(check, served{r.Method, "/" + r.Path})
	}
	for _, m := range uisession.Mounts {
		for _, r := range uisession.UIRoutes {
			p := "/" + sample.Replace(uisession.MountPath(m, r.Path))
			method := r.Method
			if r.Path == "" {
				// A mount's root: the proxy redirects it to the page's URL, "/" added, which API
				// Gateway routes to the same resource.
				p = strings.TrimSuffix(p, "/") + "/"
			}
			if method == "ANY" {
				method = "GET"
			}
			check = append(check, served{method, p})
		}
	}
	for _, c := range check {
		route, err := rt.Route(c.path, "")
		if err != nil {
			t.Errorf("%s %s: the proxy refuses it: %v", c.method, c.path, err)
		} else if _, err := route.Operation(c.method); err != nil {
			t.Errorf("%s %s: the proxy refuses the method: %v", c.method, c.path, err)
		}
	}
	for _, m := range s.resources("AWS::ApiGateway::Method") {
		if m["HttpMethod"] == "OPTIONS" && m["Integration"].(map[string]any)["ContentHandling"] != "CONVERT_TO_TEXT" {
			t.Errorf("preflight without CONVERT_TO_TEXT breaks under */* binary media types: %v", m["ResourceId"])
		}
	}
	for _, api := range s.resources("AWS::ApiGateway::RestApi") {
		if fmtAny(api["BinaryMediaTypes"]) != `["*/*"]` {
			t.Errorf("binary media types %v", api["BinaryMediaTypes"])
		}
	}
}

func TestTablesAreOnDemandEncryptedWithPITR(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		want      int
	}{
		{"dynamodb auth source", nil, 3},
		{"external auth source adds the validation cache", map[string]string{
			"authSource": "external", "authServiceUrl": "https://auth.hokus.ai"}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, "dev", tc.overrides)
			s.tmpl.ResourceCountIs(jsii.String("AWS::DynamoDB::Table"), jsii.Number(tc.want))
			s.tmpl.AllResourcesProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
				"BillingMode":                      "PAY_PER_REQUEST",
				"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				"SSESpecification":                 map[string]any{"SSEEnabled": true},
			})
		})
	}
}

func TestProductionRetainsData(t *testing.T) {
	s := synth(t, "prod", nil)
	for id, r := range s.json["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == "AWS::DynamoDB::Table" && res["DeletionPolicy"] != "Retain" {
			t.Errorf("prod table %s has DeletionPolicy %v, want Retain", id, res["DeletionPolicy"])
		}
	}
}

func TestEventBusAndArchive(t *testing.T) {
	s := synth(t, "staging", nil)
	s.tmpl.HasResourceProperties(jsii.String("AWS::Events::EventBus"), map[string]any{"Name": "hokusai-registry-staging"})
	s.tmpl.HasResourceProperties(jsii.String("AWS::Events::Archive"), map[string]any{
		"EventPattern":  map[string]any{"source": []any{"hokusai.registry"}},
		"RetentionDays": 90,
	})
}

func TestStageTracesAndLogsWithoutData(t *testing.T) {
	s := synth(t, "dev", nil)
	stages := s.resources("AWS::ApiGateway::Stage")
	if len(stages) != 1 {
		t.Fatalf("got %d stages", len(stages))
	}
	for _, st := range stages {
		if st["TracingEnabled"] != true {
			t.Error("X-Ray tracing is off")
		}
		for _, ms := range st["MethodSettings"].([]any) {
			if ms.(map[string]any)["DataTraceEnabled"] != false {
				t.Errorf("data tracing must be off: %v", ms)
			}
		}
		format := st["AccessLogSetting"].(map[string]any)["Format"].(string)
		var fields map[string]string
		if err := json.Unmarshal([]byte(format), &fields); err != nil {
			t.Fatalf("access log format is not JSON: %v", err)
		}
		for k, v := range fields {
			if strings.Contains(v, "header") || strings.Contains(v, "body") || strings.Contains(v, "input.") {
				t.Errorf("access log field %s logs request data: %s", k, v)
			}
		}
	}
}

func TestGatewayResponsesAreJSONWithBothShapes(t *testing.T) {
	s := synth(t, "dev", nil)
	byType := map[string]map[string]any{}
	for _, r := range s.resources("AWS::ApiGateway::GatewayResponse") {
		byType[r["ResponseType"].(string)] = r
	}
	want := map[string]string{
		"MISSING_AUTHENTICATION_TOKEN": "404", "UNAUTHORIZED": "401", "ACCESS_DENIED": "429",
		"AUTHORIZER_FAILURE": "503", "REQUEST_TOO_LARGE": "413", "INTEGRATION_TIMEOUT": "504",
		"THROTTLED": "429", "DEFAULT_4XX": "", "DEFAULT_5XX": "", "INTEGRATION_FAILURE": "502",
	}
	for typ, status := range want {
		r, ok := byType[typ]
		if !ok {
			t.Errorf("no gateway response for %s", typ)
			continue
		}
		if got, _ := r["StatusCode"].(string); got != status {
			t.Errorf("%s status %q, want %q", typ, got, status)
		}
		tmpl := r["ResponseTemplates"].(map[string]any)["application/json"].(string)
		// Render as API Gateway would and check the result is JSON with both error shapes.
		rendered := strings.NewReplacer(`$context.error.messageString`, `"Some \"quoted\" message"`,
			`$context.requestId`, `req-1`).Replace(tmpl)
		var body map[string]any
		if err := json.Unmarshal([]byte(rendered), &body); err != nil {
			t.Errorf("%s renders invalid JSON %s: %v", typ, rendered, err)
			continue
		}
		for _, k := range []string{"detail", "error", "error_code", "message", "request_id"} {
			if body[k] == nil || body[k] == "" {
				t.Errorf("%s body lacks %s: %s", typ, k, rendered)
			}
		}
	}
	// A body over Lambda's invocation payload ends as an integration failure: its answer names
	// the limit and the client settings that avoid it.
	for typ, needles := range map[string][]string{
		"INTEGRATION_FAILURE": {"6 MB", "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true", "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=4194304"},
		"REQUEST_TOO_LARGE":   {"10 MB", "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true", "MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=4194304"},
	} {
		tmpl, _ := byType[typ]["ResponseTemplates"].(map[string]any)["application/json"].(string)
		for _, n := range needles {
			if !strings.Contains(tmpl, n) {
				t.Errorf("%s body does not name %s: %s", typ, n, tmpl)
			}
		}
	}
	if h := byType["AUTHORIZER_FAILURE"]["ResponseParameters"].(map[string]any)["gatewayresponse.header.Retry-After"]; h != "'1'" {
		t.Errorf("authorizer failure Retry-After = %v", h)
	}
	if h := byType["ACCESS_DENIED"]["ResponseParameters"].(map[string]any)["gatewayresponse.header.Retry-After"]; h != "'60'" {
		t.Errorf("access denied Retry-After = %v", h)
	}
}

func TestHealthRoutesArePublicLambdaProxies(t *testing.T) {
	s := synth(t, "dev", nil)
	paths := map[string]string{} // logical id -> path part
	for id, r := range s.resources("AWS::ApiGateway::Resource") {
		paths[id] = r["PathPart"].(string)
	}
	if !slices.Contains(values(paths), "health") || !slices.Contains(values(paths), "mlflow") {
		t.Fatalf("resources %v lack health and health/mlflow", values(paths))
	}
	var gets, options int
	for _, m := range s.resources("AWS::ApiGateway::Method") {
		switch {
		case m["HttpMethod"] == "GET" && m["AuthorizationType"] == "NONE":
			gets++
			if m["AuthorizationType"] != "NONE" {
				t.Errorf("health GET has authorization %v", m["AuthorizationType"])
			}
			if typ := m["Integration"].(map[string]any)["Type"]; typ != "AWS_PROXY" {
				t.Errorf("health GET integration %v, want AWS_PROXY", typ)
			}
		case m["HttpMethod"] == "OPTIONS":
			options++
		}
	}
	// health and health/mlflow, and the UI's sign-in page and link landing under each mount.
	if want := 2 + 2*len(uisession.Mounts); gets != want {
		t.Errorf("got %d public GET methods, want %d", gets, want)
	}
	if options < 2 {
		t.Errorf("CORS preflight missing: %d OPTIONS methods", options)
	}
}

// grants returns, for the role whose logical id starts with rolePrefix, each action with the
// resources it is granted on.
func (s synthesized) grants(rolePrefix string) map[string]string {
	out := map[string]string{}
	for _, p := range s.resources("AWS::IAM::Policy") {
		if !strings.Contains(fmtAny(p["Roles"]), rolePrefix) {
			continue
		}
		for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			stmt := st.(map[string]any)
			for _, a := range asList(stmt["Action"]) {
				out[a] += fmtAny(stmt["Resource"])
			}
		}
	}
	return out
}

var baseActions = []string{"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments"}

// Each function may write its own logs and traces, and touch only the tables its job needs.
func TestFunctionRolesAreLeastPrivilege(t *testing.T) {
	external := map[string]string{"authSource": "external", "authServiceUrl": "https://auth.hokus.ai"}
	for _, tc := range []struct {
		name, role string
		overrides  map[string]string
		extra      []string
		table      string // the only table the extra actions may reach
	}{
		{"health", "HealthFunctionRole", nil, nil, ""},
		// And the UI's sessions (session items only: TestUISessionWiring) and the secret signing them.
		{"authorizer, dynamodb source", "AuthorizerFunctionRole", nil, []string{"dynamodb:GetItem", "secretsmanager:GetSecretValue"}, "DataKeys|DataSessions|UiSessionSecret"},
		{"authorizer, external source", "AuthorizerFunctionRole", external, []string{"dynamodb:GetItem", "dynamodb:PutItem", "secretsmanager:GetSecretValue"},
			"DataValidationCache|DataSessions|UiSessionSecret"},
		{"uisession", "UisessionFunctionRole", nil, []string{"dynamodb:DeleteItem", "dynamodb:PutItem", "secretsmanager:GetSecretValue"}, "DataSessions|UiSessionSecret"},
		{"keys", "KeysFunctionRole", nil, []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"}, "DataKeys"},
		// Owner, change and permission items only (TestRegistrationsItemsByPrefix).
		{"mlflow proxy", "MlflowproxyFunctionRole", nil, []string{"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "events:PutEvents"}, "DataRegistrations|EventsBus"},
		{"register", "RegisterFunctionRole", nil, []string{"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem", "events:PutEvents"}, "DataRegistrations|EventsBus"},
		{"outbox", "OutboxFunctionRole", nil, []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "events:PutEvents"}, "DataRegistrations|EventsBus"},
		// Every function that calls MLflow reads the upstream secret, and only it, only to get its value.
		{"mlflow proxy with upstream credentials", "MlflowproxyFunctionRole", map[string]string{"mlflowUpstreamAuth": "bearer"},
			[]string{"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "events:PutEvents", "secretsmanager:GetSecretValue"}, "DataRegistrations|EventsBus|MlflowUpstreamCredentials"},
		{"health with upstream credentials", "HealthFunctionRole", map[string]string{"mlflowUpstreamAuth": "basic"},
			[]string{"secretsmanager:GetSecretValue"}, "MlflowUpstreamCredentials"},
		{"register with upstream credentials", "RegisterFunctionRole", map[string]string{"mlflowUpstreamAuth": "basic"},
			[]string{"dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem", "events:PutEvents", "secretsmanager:GetSecretValue"},
			"DataRegistrations|EventsBus|MlflowUpstreamCredentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := synth(t, "dev", tc.overrides).grants(tc.role)
			var actions []string
			for a, res := range g {
				actions = append(actions, a)
				if strings.HasPrefix(a, "logs:") && strings.Contains(res, `"*"`) {
					t.Errorf("%s granted on every log group", a)
				}
				if strings.HasPrefix(a, "logs:") || strings.HasPrefix(a, "xray:") {
					continue
				}
				if !regexp.MustCompile(tc.table).MatchString(res) || strings.Contains(res, `"*"`) {
					t.Errorf("%s granted on %s, want only %s", a, res, tc.table)
				}
			}
			slices.Sort(actions)
			want := append(append([]string{}, baseActions...), tc.extra...)
			slices.Sort(want)
			if !slices.Equal(actions, want) {
				t.Errorf("actions %v, want exactly %v", actions, want)
			}
		})
	}
}

func TestAuthorizer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		ttl       float64
		source    any
	}{
		{"no gateway cache: every request reaches the authorizer, X-API-Key works", nil, 0, ""},
		{"gateway cache: Authorization is the identity source", map[string]string{"authorizerCacheTtl": "300"}, 300, "method.request.header.Authorization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := synth(t, "dev", tc.overrides)
			auths := s.resources("AWS::ApiGateway::Authorizer")
			if len(auths) != 2 {
				t.Fatalf("%d authorizers, want the key's and the UI's (TestUISessionWiring)", len(auths))
			}
			for _, a := range auths {
				if a["Name"] != "hokusai-api-key" {
					continue
				}
				if a["Type"] != "REQUEST" || a["AuthorizerResultTtlInSeconds"] != tc.ttl || a["IdentitySource"] != tc.source {
					t.Errorf("authorizer %v", a)
				}
			}
			keysRoutes := 0
			for _, m := range s.resources("AWS::ApiGateway::Method") {
				if m["HttpMethod"] == "OPTIONS" || m["AuthorizationType"] == "NONE" {
					continue
				}
				keysRoutes++
				if m["AuthorizationType"] != "CUSTOM" || m["AuthorizerId"] == nil {
					t.Errorf("method %v %v not behind the authorizer", m["HttpMethod"], m["ResourceId"])
				}
			}
			if keysRoutes != 3+len(stack.MLflowMounts)+len(stack.MLflowRoutes)+3+2+len(uisession.Mounts)*len(uisession.UIRoutes) {
				t.Errorf("%d authorized methods, want the keys routes, the MLflow mounts and routes, the registration routes, "+
					"sessions and sign-in links, and the UI's routes under each mount", keysRoutes)
			}
		})
	}
}

func TestAuthorizerEnvironment(t *testing.T) {
	s := synth(t, "prod", map[string]string{"authSource": "external", "authServiceUrl": "https://auth.hokus.ai"})
	for _, fn := range s.resources("AWS::Lambda::Function") {
		vars := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
		if vars["AUTH_SOURCE"] == nil || fn["Description"] != "Hokusai registry gateway: authorizer" {
			continue
		}
		if vars["AUTH_SOURCE"] != "external" || vars["AUTH_SERVICE_URL"] != "https://auth.hokus.ai" ||
			vars["ALLOWED_KEY_PREFIXES"] != "live" || vars["AUTH_STALE_GRACE"] != "300s" || vars["VALIDATION_CACHE_TABLE"] == nil {
			t.Errorf("authorizer env %v", vars)
		}
		return
	}
	t.Fatal("no authorizer function")
	for _, r := range s.resources("AWS::IAM::Role") {
		if fmtAny(r["ManagedPolicyArns"]) != "null" && strings.Contains(fmtAny(r["AssumeRolePolicyDocument"]), "lambda.amazonaws.com") {
			t.Errorf("a function role carries managed policies: %v", r["ManagedPolicyArns"])
		}
	}
}

func TestAlarms(t *testing.T) {
	s := synth(t, "prod", map[string]string{"alarmEmail": "ops@hokus.ai"})
	// API 5xx rate, errors and throttles per function, the subscriber DLQ and the outbox backlog.
	s.tmpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(1+2*len(deployed)+2))
	s.tmpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"MetricName": "5XXError", "Statistic": "Average", "Threshold": 0.05,
	})
	s.tmpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{
		"Protocol": "email", "Endpoint": "ops@hokus.ai",
	})
}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func asList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

func TestEventDelivery(t *testing.T) {
	s := synth(t, "dev", nil)
	var schedule, subscriber bool
	for _, r := range s.resources("AWS::Events::Rule") {
		switch {
		case r["ScheduleExpression"] == "rate(1 minute)":
			schedule = strings.Contains(fmtAny(r["Targets"]), "OutboxFunction")
		case strings.Contains(fmtAny(r["EventPattern"]), "hokusai.registry"):
			subscriber = strings.Contains(fmtAny(r["Targets"]), "SubscriberQueue") && strings.Contains(fmtAny(r["Targets"]), "DeadLetterConfig")
			// Every detail type of the contract, the registry's changes with the registration's.
			if got := patternDetailTypes(t, r["EventPattern"]); !slices.Equal(got, sorted(events.AllDetailTypes())) {
				t.Errorf("subscriber rule's detail types %v, want %v", got, sorted(events.AllDetailTypes()))
			}
		}
	}
	if !schedule || !subscriber {
		t.Errorf("outbox schedule %v, subscriber rule with DLQ %v", schedule, subscriber)
	}
	// The archive keeps every event of the source, whatever its detail type.
	for _, a := range s.resources("AWS::Events::Archive") {
		if p := a["EventPattern"].(map[string]any); len(p) != 1 || fmtAny(p["source"]) != fmtAny([]any{"hokusai.registry"}) {
			t.Errorf("archive pattern %v", p)
		}
	}
	schemas := s.resources("AWS::EventSchemas::Schema")
	byName := map[string]map[string]any{}
	for _, sc := range schemas {
		byName[sc["SchemaName"].(string)] = sc
	}
	if len(schemas) != len(events.AllDetailTypes()) || len(byName) != len(schemas) {
		t.Fatalf("%d schemas in the registry, want one per detail type (%d)", len(schemas), len(events.AllDetailTypes()))
	}
	for _, dt := range events.AllDetailTypes() {
		sc := byName[events.Source+"@"+dt]
		want, err := events.RegistrySchema(dt)
		if sc == nil || err != nil {
			t.Errorf("no schema of %s in the registry (%v)", dt, err)
			continue
		}
		var doc map[string]any
		if sc["Type"] != "JSONSchemaDraft4" || json.Unmarshal([]byte(sc["Content"].(string)), &doc) != nil {
			t.Errorf("schema %v is not draft-4 JSON", sc["SchemaName"])
		}
		if sc["Content"] != string(want) {
			t.Errorf("schema of %s is not events.RegistrySchema's", dt)
		}
	}
	for _, q := range s.resources("AWS::SQS::Queue") {
		if q["SqsManagedSseEnabled"] != true {
			t.Errorf("queue without encryption: %v", q)
		}
	}
}

// patternDetailTypes is the sorted detail-type list of a rule's event pattern.
func patternDetailTypes(t *testing.T, pattern any) []string {
	t.Helper()
	var p struct {
		DetailType []string `json:"detail-type"`
	}
	b, _ := json.Marshal(pattern)
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("event pattern %s: %v", b, err)
	}
	return sorted(p.DetailType)
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func TestWebhook(t *testing.T) {
	s := synth(t, "dev", map[string]string{"webhookUrl": "https://hooks.example.com/hokusai", "webhookRetrySeconds": "5"})
	var fn map[string]any
	for _, f := range s.resources("AWS::Lambda::Function") {
		if f["Description"] == "Hokusai registry gateway: webhook" {
			fn = f
		}
	}
	if fn == nil {
		t.Fatal("no webhook function")
	}
	vars := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	if vars["WEBHOOK_URL"] != "https://hooks.example.com/hokusai" || vars["WEBHOOK_RETRY_BASE"] != "5s" ||
		vars["WEBHOOK_SECRET_ARN"] == nil || vars["WEBHOOK_DLQ_URL"] == nil || vars["WEBHOOK_DETAIL_TYPES"] != "model_registered,model_ready_to_deploy" {
		t.Errorf("webhook env %v", vars)
	}
	s.tmpl.HasResourceProperties(jsii.String("AWS::Lambda::EventSourceMapping"), map[string]any{
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
	})
	redrive := false
	for _, q := range s.resources("AWS::SQS::Queue") {
		if rp, ok := q["RedrivePolicy"].(map[string]any); ok && rp["maxReceiveCount"] == float64(stack.WebhookMaxReceives) {
			redrive = true
		}
	}
	if !redrive {
		t.Error("no webhook queue with the stated redrive policy")
	}
	s.tmpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(1+2*len(functionNames)+3))
	if len(s.errors) > 0 || len(s.warnings) > 0 {
		t.Errorf("cdk-nag with a webhook: %v %v", s.errors, s.warnings)
	}
}

// The proxy records owners of what users create through MLflow (shared/registry/mlflowproxy Owners)
// and the registry changes the bus did not take (Outbox), checks permissions and manages grants
// (shared/auth/permstore); the registration checks permissions. Each may reach the registrations
// table's items by key prefix only, each action on the prefixes its job needs: a grant is a
// TransactWriteItems of UpdateItems, which IAM authorizes item by item as UpdateItem.
func TestRegistrationsItemsByPrefix(t *testing.T) {
	owner, change := regstore.OwnerPrefix+"*", regstore.ChangePrefix+"*"
	expOwner, grants, userGrants := permstore.ExperimentOwnerPrefix+"*", permstore.GrantsPrefix+"*", permstore.UserGrantsPrefix+"*"
	reads := []string{expOwner, grants, owner, userGrants}
	for _, tc := range []struct {
		role string
		want map[string][]string // action → the key patterns it is allowed on
	}{
		{"MlflowproxyFunctionRole", map[string][]string{
			"dynamodb:GetItem":      {change, expOwner, grants, owner, userGrants},
			"dynamodb:BatchGetItem": reads,
			"dynamodb:PutItem":      {change, expOwner, owner},
			"dynamodb:UpdateItem":   {grants, userGrants},
		}},
		// Its table-wide actions (registration and idempotency records) are not conditioned.
		{"RegisterFunctionRole", map[string][]string{"dynamodb:BatchGetItem": reads}},
	} {
		t.Run(tc.role, func(t *testing.T) {
			got := map[string][]string{}
			for _, p := range synth(t, "dev", nil).resources("AWS::IAM::Policy") {
				if !strings.Contains(fmtAny(p["Roles"]), tc.role) {
					continue
				}
				for _, st := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
					stmt := st.(map[string]any)
					cond, ok := stmt["Condition"].(map[string]any)
					if !ok {
						continue
					}
					if res := fmtAny(stmt["Resource"]); strings.Contains(res, "index") || !strings.Contains(res, "DataRegistrations") {
						t.Errorf("granted on %s, want the registrations table alone", res)
					}
					like, _ := cond["ForAllValues:StringLike"].(map[string]any)
					keys := asList(like["dynamodb:LeadingKeys"])
					if len(cond) != 1 || len(like) != 1 || len(keys) == 0 {
						t.Errorf("condition %s, want dynamodb:LeadingKeys alone", fmtAny(cond))
					}
					for _, a := range asList(stmt["Action"]) {
						got[a] = append(got[a], keys...)
					}
				}
			}
			for a := range got {
				slices.Sort(got[a])
				got[a] = slices.Compact(got[a])
			}
			if fmtAny(got) != fmtAny(tc.want) {
				t.Errorf("allowed by key prefix\n%s, want\n%s", fmtAny(got), fmtAny(tc.want))
			}
		})
	}
	if env := synth(t, "dev", nil).functionEnvironments(t)["mlflowproxy"]; env["REGISTRATIONS_TABLE"] == "" || env["EVENT_BUS_NAME"] == "" {
		t.Errorf("the proxy has no REGISTRATIONS_TABLE or EVENT_BUS_NAME: %v", env)
	}
}

// The proxy and the registration enforce the same permission settings, per environment: READ for
// what nobody granted, and a grant change within 30 s deployed, a second locally (the end-to-end
// tests of grant changes).
func TestPermissionSettings(t *testing.T) {
	for _, tc := range []struct {
		env       string
		overrides map[string]string
		def, ttl  string
	}{
		{"dev", nil, "READ", "30s"},
		{"prod", nil, "READ", "30s"},
		{"local", nil, "READ", "1s"},
		{"staging", map[string]string{"permissionsDefault": "NO_PERMISSIONS", "permissionsCacheTtl": "5"}, "NO_PERMISSIONS", "5s"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			envs := synth(t, tc.env, tc.overrides).functionEnvironments(t)
			for _, fn := range []string{"mlflowproxy", "register"} {
				if got := envs[fn]; got["PERMISSIONS_DEFAULT"] != tc.def || got["PERMISSIONS_CACHE_TTL"] != tc.ttl {
					t.Errorf("%s: PERMISSIONS_DEFAULT=%q PERMISSIONS_CACHE_TTL=%q, want %q %q", fn,
						got["PERMISSIONS_DEFAULT"], got["PERMISSIONS_CACHE_TTL"], tc.def, tc.ttl)
				}
			}
		})
	}
}

// A permission setting the functions would refuse at start fails synth, naming the context key.
func TestPermissionSettingsValidated(t *testing.T) {
	for _, tc := range []struct{ key, value string }{
		{"permissionsDefault", "read"}, // MLflow's names are exact
		{"permissionsDefault", ""},
		{"permissionsDefault", "ADMIN"},
		{"permissionsCacheTtl", "3601"},
		{"permissionsCacheTtl", "-1"},
		{"permissionsCacheTtl", "30s"},
	} {
		_, err := stack.Load("dev", func(k string) (string, bool) { return tc.value, k == tc.key })
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%q: %v, want an error naming %s", tc.key, tc.value, err, tc.key)
		}
	}
}
