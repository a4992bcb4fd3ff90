package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// stackFixture is a copy of cdk.out/local/HokusaiRegistryGateway-local.template.json; its asset
// folder holds a placeholder bootstrap. Refresh both after changing the stack (make synth ENV=local).
const (
	stackFixture    = "testdata/stack.template.json"
	featuresFixture = "testdata/features.template.json"
	stackName       = "HokusaiRegistryGateway-local"
	mlflowLocal     = "http://127.0.0.1:5000"
)

// same fails the test when got and want differ, showing both as JSON.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func loadStack(t *testing.T) *Model {
	t.Helper()
	m, err := Load(stackFixture, Options{
		StackName:    stackName,
		EndpointURL:  "http://127.0.0.1:4566",
		EnvOverrides: map[string]string{"MLFLOW_URL": mlflowLocal},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStackRoutes(t *testing.T) {
	api := loadStack(t).API
	if api == nil {
		t.Fatal("no API")
	}
	if api.LogicalID != "ApiRestApiE35FEAFE" || api.StageName != "local" {
		t.Errorf("API %s stage %q", api.LogicalID, api.StageName)
	}
	if api.ThrottleRate != 50 || api.ThrottleBurst != 100 {
		t.Errorf("throttling %v/%d, want 50/100", api.ThrottleRate, api.ThrottleBurst)
	}
	var got []string
	for _, r := range api.Routes {
		got = append(got, r.Method+" "+r.Path)
	}
	same(t, "routes", got, []string{
		"OPTIONS /", "GET /health", "OPTIONS /health", "GET /health/mlflow", "OPTIONS /health/mlflow",
	})

	cors := &MockResponse{Status: 204, Headers: map[string]string{
		"Access-Control-Allow-Headers": "Authorization,X-API-Key,Content-Type,Idempotency-Key,X-Request-Id",
		"Access-Control-Allow-Origin":  "*",
		"Access-Control-Allow-Methods": "OPTIONS,GET,PUT,POST,DELETE,PATCH,HEAD",
		"Access-Control-Max-Age":       "3600",
	}}
	health := Integration{Type: "AWS_PROXY", Function: "HealthFunctionLambda019F8B4E", Timeout: 29 * time.Second}
	for _, r := range api.Routes {
		want := Integration{Type: "MOCK", Timeout: 29 * time.Second, Mock: cors}
		if r.Method == "GET" {
			want = health
		}
		same(t, r.Method+" "+r.Path, r.Integration, want)
		if r.AuthorizationType != "NONE" || r.Authorizer != nil {
			t.Errorf("%s %s: authorization %s %v, want public", r.Method, r.Path, r.AuthorizationType, r.Authorizer)
		}
	}
}

func TestStackGatewayResponses(t *testing.T) {
	responses := loadStack(t).API.GatewayResponses
	for typ, status := range map[string]int{
		"DEFAULT_4XX": 0, "DEFAULT_5XX": 0, "MISSING_AUTHENTICATION_TOKEN": 404, "RESOURCE_NOT_FOUND": 404,
		"UNAUTHORIZED": 401, "ACCESS_DENIED": 429, "AUTHORIZER_FAILURE": 503, "THROTTLED": 429,
		"REQUEST_TOO_LARGE": 413, "INTEGRATION_TIMEOUT": 504, "INTEGRATION_FAILURE": 502,
	} {
		r := responses[typ]
		if r == nil {
			t.Errorf("no gateway response %s", typ)
			continue
		}
		if r.Type != typ || r.Status != status {
			t.Errorf("%s: type %s status %d, want %d", typ, r.Type, r.Status, status)
		}
		if r.Headers["Content-Type"] != "application/json" || r.Headers["Access-Control-Allow-Origin"] != "*" {
			t.Errorf("%s: headers %v", typ, r.Headers)
		}
		if !json.Valid([]byte(strings.ReplaceAll(r.Templates["application/json"], "$context.error.messageString", `""`))) {
			t.Errorf("%s: template %q", typ, r.Templates["application/json"])
		}
	}
	if len(responses) != 11 {
		t.Errorf("%d gateway responses, want 11", len(responses))
	}
	same(t, "AUTHORIZER_FAILURE headers", responses["AUTHORIZER_FAILURE"].Headers, map[string]string{
		"Access-Control-Allow-Origin": "*", "Content-Type": "application/json", "Retry-After": "1",
	})
	if got := responses["ACCESS_DENIED"].Headers["Retry-After"]; got != "60" {
		t.Errorf("ACCESS_DENIED Retry-After %q, want 60", got)
	}
}

func TestStackFunctionsAndData(t *testing.T) {
	m := loadStack(t)
	if m.StackName != stackName {
		t.Errorf("stack %q", m.StackName)
	}
	asset, err := filepath.Abs("testdata/asset.d25e56037d683f735dd60e649528a4a3d03ef5df066b82241388f192a0c1084d")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "functions", m.Functions, map[string]*Function{
		"HealthFunctionLambda019F8B4E": {
			LogicalID:    "HealthFunctionLambda019F8B4E",
			Name:         "health",
			FunctionName: stackName + "-HealthFunctionLambda019F8B4E",
			AssetDir:     asset,
			Env:          map[string]string{"HOKUSAI_ENV": "local", "LOG_LEVEL": "INFO", "MLFLOW_URL": mlflowLocal},
			Timeout:      29 * time.Second,
			MemoryMB:     256,
			LogGroup:     stackName + "-HealthFunctionLogs987E5D6E",
		},
	})
	if _, err := os.Stat(filepath.Join(asset, "bootstrap")); err != nil {
		t.Error(err)
	}
	same(t, "tables", m.Tables, []*Table{
		{
			LogicalID: "DataKeysACA0E3B2",
			Name:      stackName + "-DataKeysACA0E3B2",
			KeySchema: []KeyElement{{"key_hash", "HASH"}},
			AttributeDefinitions: []AttributeDefinition{
				{"key_hash", "S"}, {"user_id", "S"}, {"created_at", "S"}, {"key_id", "S"},
			},
			GlobalSecondaryIndexes: []SecondaryIndex{
				{IndexName: "by_user", KeySchema: []KeyElement{{"user_id", "HASH"}, {"created_at", "RANGE"}}, ProjectionType: "ALL"},
				{IndexName: "by_key_id", KeySchema: []KeyElement{{"key_id", "HASH"}}, ProjectionType: "ALL"},
			},
		},
		{
			LogicalID:            "DataRegistrations5753C5A7",
			Name:                 stackName + "-DataRegistrations5753C5A7",
			KeySchema:            []KeyElement{{"pk", "HASH"}},
			AttributeDefinitions: []AttributeDefinition{{"pk", "S"}, {"outbox_status", "S"}, {"next_attempt_at", "N"}},
			GlobalSecondaryIndexes: []SecondaryIndex{{
				IndexName:      "pending_events",
				KeySchema:      []KeyElement{{"outbox_status", "HASH"}, {"next_attempt_at", "RANGE"}},
				ProjectionType: "ALL",
			}},
			TTLAttribute: "ttl",
		},
	})
	same(t, "buses", m.Buses, []*Bus{{LogicalID: "EventsBus45DE4339", Name: "hokusai-registry-local"}})
	if len(m.Rules)+len(m.Queues)+len(m.Secrets)+len(m.EventSourceMappings) != 0 {
		t.Errorf("unexpected rules, queues, secrets or mappings: %+v", m)
	}
}

func TestStackNameFromFileName(t *testing.T) {
	m, err := Load(stackFixture, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.StackName != "stack" || m.Tables[0].Name != "stack-DataKeysACA0E3B2" {
		t.Errorf("stack %q, table %q", m.StackName, m.Tables[0].Name)
	}
	// Without a file name, the stack is the root of the resources' aws:cdk:path.
	b, err := os.ReadFile(stackFixture)
	if err != nil {
		t.Fatal(err)
	}
	if m, err = Parse(b, "testdata", Options{}); err != nil || m.StackName != stackName {
		t.Errorf("Parse: stack %q, %v", m.StackName, err)
	}
}

func loadFeatures(t *testing.T) *Model {
	t.Helper()
	m, err := Load(featuresFixture, Options{
		EndpointURL:  "http://127.0.0.1:4566/",
		EnvOverrides: map[string]string{"MLFLOW_URL": mlflowLocal, "NOT_GIVEN": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	arnPrefix = "arn:aws:"
	acct      = ":us-east-1:123456789012:"
)

func TestFeaturesEnvironment(t *testing.T) {
	fns := loadFeatures(t).Functions
	env := fns["ModelsFunctionLambda"].Env
	tableARN := arnPrefix + "dynamodb" + acct + "table/features-RegistrationsTable"
	want := map[string]string{
		"TABLE_NAME":       "features-RegistrationsTable",
		"TABLE_ARN":        tableARN,
		"KEYS_TABLE":       "features-keys",
		"QUEUE_URL":        "http://127.0.0.1:4566/123456789012/features-WorkQueue",
		"QUEUE_ARN":        arnPrefix + "sqs" + acct + "features-WorkQueue",
		"QUEUE_NAME":       "features-WorkQueue",
		"QUEUE_URL_ATTR":   "http://127.0.0.1:4566/123456789012/features-WorkQueue",
		"FIFO_QUEUE":       "features-OrderedQueue.fifo",
		"BUS_NAME":         "registry-features",
		"BUS_ARN":          arnPrefix + "events" + acct + "event-bus/registry-features",
		"SECRET_ARN":       arnPrefix + "secretsmanager" + acct + "secret:features/SigningSecret",
		"NAMED_SECRET_ARN": arnPrefix + "secretsmanager" + acct + "secret:features/mlflow",
		"DISPATCHER":       "features-DispatcherFunctionLambda",
		"DISPATCHER_ARN":   arnPrefix + "lambda" + acct + "function:features-DispatcherFunctionLambda",
		"RULE_REF":         "registry-features|features-RegisteredRule",
		"RULE_ARN":         arnPrefix + "events" + acct + "rule/registry-features/features-RegisteredRule",
		"SCHEDULE_REF":     "features-SweepSchedule",
		"PSEUDO":           "features|us-east-1|123456789012|aws|amazonaws.com",
		"SUB_ATTR":         "table=features-RegistrationsTable arn=" + tableARN + " literal=${NotResolved}",
		"SUB_MAP":          "https://api.us-east-1.amazonaws.com/features-WorkQueue",
		"JOINED":           "features-RegistrationsTable,registry-features,x",
		"SELECTED":         "b",
		"RULE_NAME":        "features-RegisteredRule",
		"MAX_MODELS":       "25",
		"PAGE_SIZE":        "50",
		"MLFLOW_URL":       mlflowLocal,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for k := range env {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected variable %s = %q", k, env[k])
		}
	}
	same(t, "mlflowproxy env", fns["Mlflowproxy8A3F9C1B"].Env, map[string]string{"MLFLOW_URL": mlflowLocal, "LOG_LEVEL": "DEBUG"})
}

func TestFeaturesFunctions(t *testing.T) {
	fns := loadFeatures(t).Functions
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id, name, physical, asset string
		timeout                   time.Duration
		memory                    int
	}{
		{"AuthorizerFunctionLambda", "authorizer", "features-AuthorizerFunctionLambda", "asset.authorizer", 3 * time.Second, 128},
		{"DispatcherFunctionLambda", "dispatcher", "features-DispatcherFunctionLambda", "asset.dispatcher", 3 * time.Second, 128},
		{"Mlflowproxy8A3F9C1B", "mlflowproxy", "features-Mlflowproxy8A3F9C1B", "asset.mlflowproxy", time.Minute, 1024},
		{"ModelsFunctionLambda", "models", "features-models", "asset.models", 29 * time.Second, 256},
		{"SweeperFunctionLambda", "sweeper", "features-SweeperFunctionLambda", "asset.sweeper", 5 * time.Minute, 128},
	}
	for _, tt := range tests {
		f := fns[tt.id]
		if f == nil {
			t.Errorf("no function %s", tt.id)
			continue
		}
		got := [...]any{f.LogicalID, f.Name, f.FunctionName, f.AssetDir, f.Timeout, f.MemoryMB}
		want := [...]any{tt.id, tt.name, tt.physical, filepath.Join(dir, tt.asset), tt.timeout, tt.memory}
		same(t, tt.id, got, want)
	}
	// The custom resource provider has inline code: not runnable, and its unresolvable
	// environment (Fn::ImportValue) does not matter since nothing invokes it.
	if len(fns) != len(tests) {
		t.Errorf("%d functions, want %d", len(fns), len(tests))
	}
}

func TestFeaturesAPI(t *testing.T) {
	api := loadFeatures(t).API
	keyAuth := &Authorizer{
		LogicalID: "ApiKeyAuthorizer", Name: "api-key", Type: "REQUEST", Function: "AuthorizerFunctionLambda",
		IdentitySources: []IdentitySource{
			{"header", "Authorization"}, {"header", "X-API-Key"}, {"querystring", "key"},
			{"context", "sourceIp"}, {"stageVariables", "tier"},
		},
		TTL: 0,
	}
	tokenAuth := &Authorizer{
		LogicalID: "ApiTokenAuthorizer", Name: "token", Type: "TOKEN", Function: "AuthorizerFunctionLambda",
		IdentitySources: []IdentitySource{{"header", "Authorization"}},
		TTL:             300 * time.Second,
	}
	publicAuth := &Authorizer{
		LogicalID: "ApiPublicAuthorizer", Name: "public", Type: "REQUEST", Function: "AuthorizerFunctionLambda",
		TTL: 2 * time.Minute,
	}
	same(t, "authorizers", api.Authorizers, map[string]*Authorizer{
		keyAuth.LogicalID: keyAuth, tokenAuth.LogicalID: tokenAuth, publicAuth.LogicalID: publicAuth,
	})
	proxy := func(fn string, timeout time.Duration, stream bool) Integration {
		return Integration{Type: "AWS_PROXY", Function: fn, Timeout: timeout, Stream: stream}
	}
	mock := func(status int, headers map[string]string) Integration {
		return Integration{Type: "MOCK", Timeout: 29 * time.Second, Mock: &MockResponse{Status: status, Headers: headers}}
	}
	same(t, "routes", api.Routes, []*Route{
		{Path: "/", Method: "GET", AuthorizationType: "NONE",
			Integration: mock(200, map[string]string{"Content-Type": "text/plain"})},
		{Path: "/api/mlflow", Method: "ANY", AuthorizationType: "CUSTOM", Authorizer: keyAuth,
			Integration: proxy("Mlflowproxy8A3F9C1B", time.Minute, false)},
		{Path: "/api/mlflow/{proxy+}", Method: "ANY", AuthorizationType: "CUSTOM", Authorizer: keyAuth,
			Integration: proxy("Mlflowproxy8A3F9C1B", time.Minute, false)},
		{Path: "/api/mlflow/{proxy+}", Method: "OPTIONS", AuthorizationType: "NONE",
			Integration: mock(204, map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": "OPTIONS,GET,PUT,POST,DELETE,PATCH,HEAD",
			})},
		{Path: "/api/models", Method: "POST", AuthorizationType: "CUSTOM", Authorizer: tokenAuth,
			Integration: proxy("ModelsFunctionLambda", 29*time.Second, false)},
		{Path: "/api/models/{name}/artifacts", Method: "GET", AuthorizationType: "CUSTOM", Authorizer: keyAuth,
			Integration: proxy("Mlflowproxy8A3F9C1B", 29*time.Second, true)},
		{Path: "/api/models/{name}/artifacts", Method: "PUT", AuthorizationType: "CUSTOM", Authorizer: publicAuth,
			Integration: proxy("ModelsFunctionLambda", 29*time.Second, true)},
	})
	// Routes share the authorizer itself, not a copy.
	if api.Routes[1].Authorizer != api.Authorizers["ApiKeyAuthorizer"] {
		t.Error("route authorizer is a copy")
	}
	same(t, "stage", [...]any{api.StageName, api.ThrottleRate, api.ThrottleBurst}, [...]any{"dev", 12.5, 20})
	same(t, "binary media types", api.BinaryMediaTypes, []string{"application/octet-stream", "image/png"})
	same(t, "gateway responses", api.GatewayResponses, map[string]*GatewayResponse{
		"DEFAULT_4XX": {
			Type:      "DEFAULT_4XX",
			Headers:   map[string]string{"Access-Control-Allow-Origin": "*"},
			Templates: map[string]string{"application/json": `{"message":$context.error.messageString}`},
		},
		"THROTTLED": {Type: "THROTTLED", Status: 429, Headers: map[string]string{"Retry-After": "1"}, Templates: map[string]string{}},
	})
}

func TestFeaturesData(t *testing.T) {
	m := loadFeatures(t)
	same(t, "tables", m.Tables, []*Table{
		{
			LogicalID: "KeysTable",
			Name:      "features-keys",
			KeySchema: []KeyElement{{"key_hash", "HASH"}},
			AttributeDefinitions: []AttributeDefinition{
				{"key_hash", "S"}, {"user_id", "S"}, {"created_at", "N"},
			},
			GlobalSecondaryIndexes: []SecondaryIndex{{
				IndexName:        "by_user",
				KeySchema:        []KeyElement{{"user_id", "HASH"}, {"created_at", "RANGE"}},
				ProjectionType:   "INCLUDE",
				NonKeyAttributes: []string{"key_id", "revoked"},
			}},
			TTLAttribute: "expires_at",
		},
		{
			LogicalID:            "RegistrationsTable",
			Name:                 "features-RegistrationsTable",
			KeySchema:            []KeyElement{{"pk", "HASH"}, {"sk", "RANGE"}},
			AttributeDefinitions: []AttributeDefinition{{"pk", "S"}, {"sk", "S"}},
		},
	})
	same(t, "queues", m.Queues, []*Queue{
		{LogicalID: "DeadLetterQueue", Name: "features-DeadLetterQueue", VisibilityTimeout: 30 * time.Second},
		{LogicalID: "OrderedQueue", Name: "features-OrderedQueue.fifo", FIFO: true, VisibilityTimeout: 30 * time.Second,
			DeadLetterQueue: "DeadLetterQueue", MaxReceiveCount: 3},
		{LogicalID: "WorkQueue", Name: "features-WorkQueue", VisibilityTimeout: 3 * time.Minute,
			DeadLetterQueue: "DeadLetterQueue", MaxReceiveCount: 5},
	})
	same(t, "secrets", m.Secrets, []*Secret{
		{LogicalID: "MlflowSecret", Name: "features/mlflow", Value: `{"url":"http://mlflow.us-east-1"}`},
		{LogicalID: "SigningSecret", Name: "features/SigningSecret", Generate: json.RawMessage(
			`{"ExcludePunctuation":true,"GenerateStringKey":"key","PasswordLength":32,"SecretStringTemplate":"{\"bus\":\"registry-features\"}"}`)},
	})
	same(t, "event source mappings", m.EventSourceMappings, []*EventSourceMapping{
		{LogicalID: "DeadLetterMapping", Function: "SweeperFunctionLambda", Queue: "DeadLetterQueue", BatchSize: 10},
		{LogicalID: "WorkQueueMapping", Function: "DispatcherFunctionLambda", Queue: "WorkQueue", BatchSize: 5,
			ReportBatchItemFailures: true, MaxBatchingWindow: 2 * time.Second, Enabled: true},
	})
}

func TestFeaturesEvents(t *testing.T) {
	m := loadFeatures(t)
	same(t, "buses", m.Buses, []*Bus{{LogicalID: "RegistryBus", Name: "registry-features"}})
	same(t, "rules", m.Rules, []*Rule{
		{
			LogicalID:    "AuditRule",
			Name:         "audit",
			Bus:          "registry-features",
			EventPattern: json.RawMessage(`{"source":["hokusai.audit"]}`),
			Targets:      []*Target{{ID: "Q", Queue: "WorkQueue", Input: json.RawMessage(`{"audit":true}`)}},
		},
		{
			LogicalID: "RegisteredRule",
			Name:      "features-RegisteredRule",
			Bus:       "registry-features",
			EventPattern: json.RawMessage(`{"detail":{"size":[{"numeric":[">",1.5e3]}]},` +
				`"detail-type":["ModelRegistered"],` +
				`"resources":["arn:aws:dynamodb:us-east-1:123456789012:table/features-RegistrationsTable"],` +
				`"source":["hokusai.registry"]}`),
			Enabled: true,
			Targets: []*Target{
				{ID: "Dispatcher", Function: "DispatcherFunctionLambda", MaxRetryAttempts: 2, MaxEventAge: time.Hour},
				{ID: "Work", Queue: "WorkQueue", DeadLetterQueue: "DeadLetterQueue"},
			},
		},
		{
			LogicalID: "SweepSchedule",
			Name:      "features-SweepSchedule",
			Bus:       "default",
			Schedule:  "rate(1 minute)",
			Enabled:   true,
			Targets:   []*Target{{ID: "Target0", Function: "SweeperFunctionLambda", Input: json.RawMessage(`{"kind":"sweep"}`)}},
		},
	})
}

func TestPhysicalNames(t *testing.T) {
	long := strings.Repeat("Construct", 10)
	tests := []struct {
		typ, id string
		limit   int
	}{
		{typeQueue, long, 80},
		{typeRule, long, 64},
		{typeFunction, long, 64},
		{typeTable, long, 0},
	}
	for _, tt := range tests {
		got := DefaultPhysicalName("Stack", tt.id, tt.typ)
		other := DefaultPhysicalName("Stack", tt.id+"2", tt.typ)
		switch {
		case tt.limit == 0 && got != "Stack-"+long:
			t.Errorf("%s: %q shortened", tt.typ, got)
		case tt.limit > 0 && (len(got) != tt.limit || len(other) != tt.limit || got == other):
			t.Errorf("%s: %q and %q, want distinct names of %d bytes", tt.typ, got, other, tt.limit)
		}
		if again := DefaultPhysicalName("Stack", tt.id, tt.typ); again != got {
			t.Errorf("%s: %q then %q", tt.typ, got, again)
		}
	}
	if got := DefaultPhysicalName("Stack", "Key", typeSecret); got != "Stack/Key" {
		t.Errorf("secret %q", got)
	}
	if got := DefaultPhysicalName("Stack", "Short", typeRule); got != "Stack-Short" {
		t.Errorf("rule %q", got)
	}

	// Generated FIFO names keep .fifo within SQS's 80 bytes; Options.Physical replaces generation.
	tmpl := `{"Resources": {
		"` + long + `": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": "true"}},
		"Q": {"Type": "AWS::SQS::Queue"},
		"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "declared"}}}}`
	m, err := Parse([]byte(tmpl), ".", Options{StackName: "Stack"})
	if err != nil {
		t.Fatal(err)
	}
	if name := m.Queues[0].Name; len(name) != 80 || !strings.HasSuffix(name, ".fifo") {
		t.Errorf("FIFO queue %q", name)
	}
	m, err = Parse([]byte(tmpl), ".", Options{StackName: "Stack", Physical: func(stack, id, typ string) string {
		return strings.ToLower(stack + "_" + id)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Queues[1].Name != "stack_q" || m.Tables[0].Name != "declared" {
		t.Errorf("queue %q, table %q", m.Queues[1].Name, m.Tables[0].Name)
	}
}

// fn is a runnable function resource for the error templates.
const fn = `"Fn": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "asset.fn"}}`

func method(integration string) string {
	return `"Api": {"Type": "AWS::ApiGateway::RestApi"},
		"Method1": {"Type": "AWS::ApiGateway::Method", "Properties": {
			"HttpMethod": "GET", "RestApiId": {"Ref": "Api"},
			"ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
			"Integration": ` + integration + `}}`
}

func proxyTo(function string) string {
	return `{"Type": "AWS_PROXY", "Uri": {"Fn::Join": ["", ["arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/",
		{"Fn::GetAtt": ["` + function + `", "Arn"]}, "/invocations"]]}}`
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name      string
		resources string
		want      []string // all in the message
	}{
		{"two REST APIs", `"ApiOne": {"Type": "AWS::ApiGateway::RestApi"}, "ApiTwo": {"Type": "AWS::ApiGateway::RestApi"}`,
			[]string{"one REST API", "ApiOne, ApiTwo"}},
		{"integration on a function without asset",
			`"Provider": {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"ZipFile": "x"}}},` + method(proxyTo("Provider")),
			[]string{"Method1", "Integration.Uri", "function Provider has no asset"}},
		{"integration on an unknown function", method(`{"Type": "AWS_PROXY", "Uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:elsewhere/invocations"}`),
			[]string{"Method1", "is no function of this stack"}},
		{"unsupported integration", fn + `,` + method(`{"Type": "HTTP_PROXY", "Uri": "https://example.com"}`),
			[]string{"Method1", "HTTP_PROXY is not supported"}},
		{"Fn::ImportValue", `"Fn1": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "a"},
			"Properties": {"Environment": {"Variables": {"X": {"Fn::Join": ["", [{"Fn::ImportValue": "shared"}]]}}}}}`,
			[]string{"Fn1 (AWS::Lambda::Function)", "Environment.Variables.X", "Fn::ImportValue is not supported"}},
		{"Fn::If", `"Fn1": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "a"},
			"Properties": {"Environment": {"Variables": {"X": {"Fn::If": ["C", "a", "b"]}}}}}`,
			[]string{"Fn1", "Environment.Variables.X", "Fn::If: conditions are not evaluated"}},
		{"conditional resource", `"T": {"Type": "AWS::DynamoDB::Table", "Condition": "IsProd"}`,
			[]string{"T (AWS::DynamoDB::Table)", "Condition \"IsProd\""}},
		{"unknown Ref", `"Fn1": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "a"},
			"Properties": {"Environment": {"Variables": {"X": {"Ref": "Nowhere"}}}}}`,
			[]string{"Fn1", "\"Nowhere\" is no resource or parameter"}},
		{"SSM parameter", `"Fn1": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "a"},
			"Properties": {"Environment": {"Variables": {"X": {"Ref": "BootstrapVersion"}}}}}`,
			[]string{"Fn1", "BootstrapVersion is read from SSM"}},
		{"stream ARN", `"T": {"Type": "AWS::DynamoDB::Table"}, "Fn1": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "a"},
			"Properties": {"Environment": {"Variables": {"X": {"Fn::GetAtt": ["T", "StreamArn"]}}}}}`,
			[]string{"Fn1", "resource T: DynamoDB streams are not emulated"}},
		{"circular names", `"A": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "${B}-a"}}},
			"B": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "${A}-b"}}}`,
			[]string{"A (AWS::DynamoDB::Table)", "circular reference"}},
		{"circular resources", `"Api": {"Type": "AWS::ApiGateway::RestApi"},
			"R1": {"Type": "AWS::ApiGateway::Resource", "Properties": {"ParentId": {"Ref": "R2"}, "PathPart": "a", "RestApiId": {"Ref": "Api"}}},
			"R2": {"Type": "AWS::ApiGateway::Resource", "Properties": {"ParentId": {"Ref": "R1"}, "PathPart": "b", "RestApiId": {"Ref": "Api"}}},
			"M": {"Type": "AWS::ApiGateway::Method", "Properties": {"HttpMethod": "GET", "RestApiId": {"Ref": "Api"},
				"ResourceId": {"Ref": "R1"}, "Integration": {"Type": "MOCK"}}}`,
			[]string{"M (AWS::ApiGateway::Method)", "is its own ancestor"}},
		{"custom authorization without authorizer", fn + `,` + strings.Replace(method(proxyTo("Fn")), `"HttpMethod"`, `"AuthorizationType": "CUSTOM", "HttpMethod"`, 1),
			[]string{"Method1", "CUSTOM without an AuthorizerId"}},
		{"rule target outside the stack", `"R": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(1 minute)",
			"Targets": [{"Id": "t", "Arn": "arn:aws:sns:us-east-1:1:topic"}]}}`,
			[]string{"R (AWS::Events::Rule)", "Targets[0].Arn", "neither a function nor a queue"}},
		{"event source not a queue", fn + `, "M": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
			"FunctionName": {"Ref": "Fn"}, "EventSourceArn": "arn:aws:kinesis:us-east-1:1:stream/s"}}`,
			[]string{"M (AWS::Lambda::EventSourceMapping)", "EventSourceArn", "no SQS queue of this stack"}},
		{"input transformer", fn + `, "R": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["x"]},
			"Targets": [{"Id": "t", "Arn": {"Fn::GetAtt": ["Fn", "Arn"]}, "InputTransformer": {"InputTemplate": "x"}}]}}`,
			[]string{"R", "Targets[0].InputTransformer: not supported"}},
		{"duplicate physical names", `"Q1": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}},
			"Q2": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}}`,
			[]string{"Q2 (AWS::SQS::Queue)", `"jobs" is also that of Q1`}},
		{"OpenAPI body", `"Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Body": {"openapi": "3.0.1"}}}`,
			[]string{"Api (AWS::ApiGateway::RestApi)", "Body: REST APIs defined by OpenAPI"}},
		{"subscription filter on a group no function writes", fn + `, "G": {"Type": "AWS::Logs::LogGroup"},
			"F": {"Type": "AWS::Logs::SubscriptionFilter", "Properties": {"LogGroupName": {"Ref": "G"}, "FilterPattern": "",
				"DestinationArn": {"Fn::GetAtt": ["Fn", "Arn"]}}}`,
			[]string{"F (AWS::Logs::SubscriptionFilter)", "LogGroupName", "no log group a function of this stack writes"}},
		{"subscription filter to a stream", fn + `, "F": {"Type": "AWS::Logs::SubscriptionFilter", "Properties": {
			"LogGroupName": "/aws/lambda/S-Fn", "FilterPattern": "", "DestinationArn": "arn:aws:kinesis:us-east-1:1:stream/s"}}`,
			[]string{"F (AWS::Logs::SubscriptionFilter)", "DestinationArn", "only Lambda destinations"}},
		{"malformed resource", `"A": {"Type": "AWS::SQS::Queue", "Properties": "none"}`,
			[]string{"A: json: cannot unmarshal string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := `{"Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/x"}},
				"Resources": {` + tt.resources + `}}`
			_, err := Parse([]byte(tmpl), ".", Options{StackName: "S"})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, tmpl := range []string{``, `[]`, `{"Resources": 1}`, `{"Resources": {}}`, `{"Resources": {"A": null}}`,
		`{"Resources": {"A": {"Type": "AWS::SQS::Queue"}}}`} {
		if _, err := Parse([]byte(tmpl), ".", Options{}); err == nil {
			t.Errorf("%s: no error", tmpl)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, path := range []string{stackFixture, featuresFixture} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Resources": {` + fn + `,` + method(proxyTo("Fn")) + `}}`))
	f.Add([]byte(`{"Resources": {"A": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "${A}"}}}}}`))
	f.Add([]byte(`{"Resources": {"R": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"Fn::Select": ["9", []]}}}}}`))
	f.Fuzz(func(t *testing.T, tmpl []byte) {
		opts := Options{StackName: "Fuzz", EndpointURL: "http://127.0.0.1:1", EnvOverrides: map[string]string{"X": "y"}}
		m1, err1 := Parse(tmpl, "testdata", opts)
		m2, err2 := Parse(tmpl, "testdata", opts)
		// Deterministic: the same bytes give the same model or the same error.
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) || !reflect.DeepEqual(m1, m2) {
			t.Fatalf("two parses differ: %v / %v", err1, err2)
		}
		if err1 == nil && m1 == nil {
			t.Fatal("nil model without error")
		}
	})
}

// FuzzIntrinsics puts arbitrary JSON where an intrinsic may appear, next to one resource of each
// kind, so that the resolver is explored further than by FuzzParse, whose mutations mostly break
// the JSON.
func FuzzIntrinsics(f *testing.F) {
	for _, seed := range []string{
		`{"Fn::Sub": ["${A}-${Q.Arn}-${AWS::Region}-${!x}", {"A": {"Ref": "Bus"}}]}`,
		`{"Fn::Join": ["", [{"Ref": "Q"}, {"Fn::GetAtt": "Rule.Arn"}, {"Ref": "AWS::NoValue"}]]}`,
		`{"Fn::Select": [2, {"Fn::Split": [",", {"Fn::FindInMap": ["M", "a", "b"]}]}]}`,
		`{"Fn::Base64": {"Ref": "Secret"}}`,
		`{"Fn::GetAtt": ["Table", {"Ref": "AWS::StackName"}]}`,
		`{"Ref": "P"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if !json.Valid([]byte(expr)) {
			return
		}
		tmpl := `{"Parameters": {"P": {"Type": "CommaDelimitedList", "Default": "a,b"}},
			"Mappings": {"M": {"a": {"b": "x,y,z"}}},
			"Resources": {
			"Fn": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "a"},
				"Properties": {"FunctionName": ` + expr + `, "Environment": {"Variables": {"X": ` + expr + `}}}},
			"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": ` + expr + `}},
			"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q-${Table}"}}},
			"Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": ` + expr + `}},
			"Secret": {"Type": "AWS::SecretsManager::Secret"},
			"Rule": {"Type": "AWS::Events::Rule", "Properties": {"EventBusName": {"Ref": "Bus"},
				"EventPattern": {"x": [` + expr + `]}, "Targets": [{"Id": "t", "Arn": ` + expr + `}]}}}}`
		m1, err1 := Parse([]byte(tmpl), ".", Options{StackName: "S"})
		m2, err2 := Parse([]byte(tmpl), ".", Options{StackName: "S"})
		if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) || !reflect.DeepEqual(m1, m2) {
			t.Fatalf("two parses differ: %v / %v", err1, err2)
		}
	})
}

// TestSubBounded: a variable used twice at every level of nesting doubles the result per level;
// the parser gives up instead of building a string of 2^depth bytes.
func TestSubBounded(t *testing.T) {
	expr := `"ab"`
	for range 40 {
		expr = `{"Fn::Sub": ["${X}${X}", {"X": ` + expr + `}]}`
	}
	tmpl := `{"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "a"},
		"Properties": {"Environment": {"Variables": {"BIG": ` + expr + `}}}}}}`
	_, err := Parse([]byte(tmpl), ".", Options{StackName: "S"})
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Errorf("error %v", err)
	}
}

// A function's log group is its LoggingConfig's (or Lambda's default); subscription filters name
// their source group and destination function as the harness needs them.
func TestLogGroupsAndSubscriptionFilters(t *testing.T) {
	tmpl := `{"Resources": {
		"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
		"Audit": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/hokusai/x/audit"}},
		"Emitter": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "a"},
			"Properties": {"LoggingConfig": {"LogFormat": "JSON", "LogGroup": {"Ref": "Logs"}}}},
		"Dest": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "b"}},
		"Filter": {"Type": "AWS::Logs::SubscriptionFilter", "Properties": {"LogGroupName": {"Ref": "Logs"},
			"FilterPattern": "{ $.a = \"b\" }", "DestinationArn": {"Fn::GetAtt": ["Dest", "Arn"]}}},
		"Named": {"Type": "AWS::Logs::SubscriptionFilter", "Properties": {"FilterName": "mine", "LogGroupName": "/aws/lambda/S-Dest",
			"FilterPattern": "", "DestinationArn": {"Fn::GetAtt": ["Dest", "Arn"]}}}}}`
	m, err := Parse([]byte(tmpl), ".", Options{StackName: "S"})
	if err != nil {
		t.Fatal(err)
	}
	same(t, "emitter log group", m.Functions["Emitter"].LogGroup, "S-Logs")
	same(t, "default log group", m.Functions["Dest"].LogGroup, "/aws/lambda/S-Dest")
	same(t, "log groups", []LogGroup{*m.LogGroups[0], *m.LogGroups[1]}, []LogGroup{
		{LogicalID: "Audit", Name: "/hokusai/x/audit"}, {LogicalID: "Logs", Name: "S-Logs", RetentionDays: 7}})
	same(t, "filters", []SubscriptionFilter{*m.SubscriptionFilters[0], *m.SubscriptionFilters[1]}, []SubscriptionFilter{
		{LogicalID: "Filter", Name: "S-Filter", LogGroup: "S-Logs", FilterPattern: `{ $.a = "b" }`, Function: "Dest"},
		{LogicalID: "Named", Name: "mine", LogGroup: "/aws/lambda/S-Dest", Function: "Dest"}})
}
