// Package template reads a synthesized CloudFormation template (cdk.out) into the model the local
// harness runs: routes, authorizers, gateway responses, functions with their environment, tables,
// buses, rules, schedules, queues, secrets and event source mappings. The harness has no route
// table or resource list of its own, so local and deployed cannot drift.
package template

import (
	"encoding/json"
	"time"
)

// AccountID and Region are what the harness says the local "AWS" is (moto's defaults).
const (
	AccountID = "123456789012"
	Region    = "us-east-1"
)

// Model is everything the harness needs from one stack's template.
type Model struct {
	StackName string
	// Functions by logical id.
	Functions map[string]*Function
	API       *RestAPI // nil when the stack has no REST API
	Tables    []*Table
	Buses     []*Bus
	Rules     []*Rule
	Queues    []*Queue
	Secrets   []*Secret
	// EventSourceMappings are SQS → function pollings.
	EventSourceMappings []*EventSourceMapping
	LogGroups           []*LogGroup
	// SubscriptionFilters deliver function log events to functions.
	SubscriptionFilters []*SubscriptionFilter
}

// Function is one AWS::Lambda::Function packaged from a local asset.
type Function struct {
	LogicalID string
	// Name is the short name: the construct id under the stack ("HealthFunction" → "health"),
	// lower-cased and with a trailing "Function" dropped.
	Name string
	// FunctionName is the physical name (FunctionName, or the harness's generated one): what
	// AWS_LAMBDA_FUNCTION_NAME and the invoked function ARN carry, and what Ref returns to others.
	FunctionName string
	// AssetDir is the absolute folder holding the function's bootstrap (from aws:asset:path).
	AssetDir string
	// Env is the function's environment with every intrinsic resolved to local physical values.
	Env      map[string]string
	Timeout  time.Duration
	MemoryMB int
	// LogGroup is the name of the log group its output goes to.
	LogGroup string
}

// RestAPI is the one AWS::ApiGateway::RestApi with its stage settings.
type RestAPI struct {
	LogicalID        string
	StageName        string
	BinaryMediaTypes []string
	Routes           []*Route
	// Authorizers by logical id.
	Authorizers map[string]*Authorizer
	// GatewayResponses by response type (DEFAULT_4XX, MISSING_AUTHENTICATION_TOKEN, …).
	GatewayResponses map[string]*GatewayResponse
	// Throttling of the stage's default method settings (0 when unset).
	ThrottleRate  float64
	ThrottleBurst int
}

// Route is one AWS::ApiGateway::Method on its full resource path.
type Route struct {
	// Path is the resource path from the root: "/", "/health/mlflow", "/api/mlflow/{proxy+}".
	Path string
	// Method is GET, POST, …, OPTIONS or ANY.
	Method string
	// AuthorizationType is NONE, CUSTOM, AWS_IAM or COGNITO_USER_POOLS.
	AuthorizationType string
	// Authorizer is set when AuthorizationType is CUSTOM.
	Authorizer  *Authorizer
	Integration Integration
}

// Integration is a method's backend.
type Integration struct {
	// Type is AWS_PROXY or MOCK (CORS preflight).
	Type string
	// Function is the logical id of the Lambda an AWS_PROXY integration invokes.
	Function string
	// Stream is true for ResponseTransferMode STREAM (InvokeWithResponseStream).
	Stream bool
	// Timeout is TimeoutInMillis, or API Gateway's default of 29 s.
	Timeout time.Duration
	// Mock is the answer of a MOCK integration: the first integration response's status and the
	// static values of its method.response.header.* parameters.
	Mock *MockResponse
}

// MockResponse is a MOCK integration's static answer.
type MockResponse struct {
	Status  int
	Headers map[string]string
}

// Authorizer is an AWS::ApiGateway::Authorizer.
type Authorizer struct {
	LogicalID string
	Name      string
	// Type is REQUEST or TOKEN.
	Type string
	// Function is the logical id of the authorizer Lambda.
	Function string
	// IdentitySources are the parsed entries of IdentitySource, e.g. {"header", "Authorization"}.
	IdentitySources []IdentitySource
	// TTL is AuthorizerResultTtlInSeconds (API Gateway's default 300 s when absent; 0 disables).
	TTL time.Duration
}

// IdentitySource is one method.request.{header|querystring}.<name> or context/stageVariables entry.
type IdentitySource struct {
	// Kind is header, querystring, context or stageVariables.
	Kind string
	Name string
}

// GatewayResponse is an AWS::ApiGateway::GatewayResponse.
type GatewayResponse struct {
	Type string
	// Status is the StatusCode, 0 when the response keeps the status of the error.
	Status int
	// Headers are the static values of gatewayresponse.header.* parameters (quotes removed).
	Headers map[string]string
	// Templates by content type.
	Templates map[string]string
}

// Table is an AWS::DynamoDB::Table.
type Table struct {
	LogicalID              string
	Name                   string
	KeySchema              []KeyElement
	AttributeDefinitions   []AttributeDefinition
	GlobalSecondaryIndexes []SecondaryIndex
	TTLAttribute           string
}

type KeyElement struct {
	AttributeName string
	KeyType       string // HASH or RANGE
}

type AttributeDefinition struct {
	AttributeName string
	AttributeType string // S, N or B
}

type SecondaryIndex struct {
	IndexName        string
	KeySchema        []KeyElement
	ProjectionType   string
	NonKeyAttributes []string
}

// Bus is an AWS::Events::EventBus.
type Bus struct {
	LogicalID string
	Name      string
}

// Rule is an AWS::Events::Rule: an event pattern on a bus, or a schedule.
type Rule struct {
	LogicalID string
	Name      string
	// Bus is the bus name ("default" when the rule names none).
	Bus          string
	EventPattern json.RawMessage // nil for schedules
	// Schedule is the ScheduleExpression, "rate(5 minutes)" or "cron(…)"; empty for patterns.
	Schedule string
	Enabled  bool
	Targets  []*Target
}

// Target is one rule target.
type Target struct {
	ID string
	// Function is the logical id of a Lambda target; Queue of an SQS target. One is set.
	Function string
	Queue    string
	// Input is the constant input, when the target has one.
	Input json.RawMessage
	// DeadLetterQueue is the logical id of the target's DLQ, if any.
	DeadLetterQueue string
	// MaxRetryAttempts and MaxEventAge are the target's retry policy (0 when unset).
	MaxRetryAttempts int
	MaxEventAge      time.Duration
}

// Queue is an AWS::SQS::Queue.
type Queue struct {
	LogicalID         string
	Name              string
	FIFO              bool
	VisibilityTimeout time.Duration
	// DeadLetterQueue is the logical id of the redrive target; MaxReceiveCount its threshold.
	DeadLetterQueue string
	MaxReceiveCount int
}

// Secret is an AWS::SecretsManager::Secret.
type Secret struct {
	LogicalID string
	Name      string
	// Value is SecretString when the template sets one; otherwise the harness generates a value
	// shaped by Generate (the GenerateSecretString settings, kept raw).
	Value    string
	Generate json.RawMessage
}

// EventSourceMapping is an AWS::Lambda::EventSourceMapping from an SQS queue.
type EventSourceMapping struct {
	LogicalID string
	Function  string // logical id
	Queue     string // logical id
	BatchSize int
	// ReportBatchItemFailures is set when FunctionResponseTypes includes it.
	ReportBatchItemFailures bool
	MaxBatchingWindow       time.Duration
	Enabled                 bool
}
