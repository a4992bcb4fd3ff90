package stack

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
)

// API is the REST API with its gateway responses, authorizer and routes.
type API struct {
	RestAPI    awsapigateway.RestApi
	AccessLog  awslogs.LogGroup
	Authorizer awsapigateway.RequestAuthorizer
	// UIAuthorizer is the same function for the MLflow UI's routes, where a browser's session
	// cookie stands in for a key (UIProxyRoute).
	UIAuthorizer awsapigateway.RequestAuthorizer
}

// Access says whether a route needs an API key.
type Access bool

const (
	public     Access = false
	authorized Access = true
)

// MultipartHint tells a client how to send files over the gateway's limits (SPEC section 6).
const MultipartHint = "set MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true and " +
	"MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE=4194304 so large artifacts go to storage in parts"

// GatewayError is one gateway-generated answer: API Gateway responses cannot run code, so each is
// a static status, static headers and a body template carrying both error shapes of SPEC section 3.
type GatewayError struct {
	Type    awsapigateway.ResponseType
	Status  string
	Code    string
	Message string // empty: API Gateway's own message ($context.error.messageString)
	Headers map[string]string
}

// GatewayErrors are the gateway responses of SPEC sections 3 and 4.
func GatewayErrors() []GatewayError {
	return []GatewayError{
		{Type: awsapigateway.ResponseType_DEFAULT_4XX(), Code: "BAD_REQUEST"},
		{Type: awsapigateway.ResponseType_DEFAULT_5XX(), Code: "GATEWAY_ERROR"},
		// Without an override an unknown route answers 403 "Missing Authentication Token".
		{Type: awsapigateway.ResponseType_MISSING_AUTHENTICATION_TOKEN(), Status: "404", Code: "NOT_FOUND",
			Message: "Not Found: no route matches this method and path"},
		{Type: awsapigateway.ResponseType_RESOURCE_NOT_FOUND(), Status: "404", Code: "NOT_FOUND",
			Message: "Not Found: no route matches this method and path"},
		{Type: awsapigateway.ResponseType_UNAUTHORIZED(), Status: "401", Code: "UNAUTHORIZED",
			Message: "Missing, invalid or revoked API key"},
		// Deny is used only when the auth service throttled the caller (SPEC section 4).
		{Type: awsapigateway.ResponseType_ACCESS_DENIED(), Status: "429", Code: "RATE_LIMITED",
			Message: "Too many requests for this API key; retry later", Headers: map[string]string{"Retry-After": "60"}},
		{Type: awsapigateway.ResponseType_AUTHORIZER_FAILURE(), Status: "503", Code: "AUTH_SERVICE_UNAVAILABLE",
			Message: "The authentication service is unavailable; retry shortly", Headers: map[string]string{"Retry-After": "1"}},
		{Type: awsapigateway.ResponseType_THROTTLED(), Status: "429", Code: "THROTTLED",
			Message: "Too many requests; retry later", Headers: map[string]string{"Retry-After": "1"}},
		{Type: awsapigateway.ResponseType_REQUEST_TOO_LARGE(), Status: "413", Code: "PAYLOAD_TOO_LARGE",
			Message: "Request over API Gateway's 10 MB limit; for MLflow artifacts " + MultipartHint},
		{Type: awsapigateway.ResponseType_INTEGRATION_TIMEOUT(), Status: "504", Code: "TIMEOUT",
			Message: "The request took longer than the gateway's 29 s limit"},
		// API Gateway answers both a function that failed and an invocation Lambda rejected
		// through this type; the latter is how a request body over Lambda's 6 MB invocation
		// payload ends, and a gateway response cannot tell the two apart, so it names both.
		{Type: awsapigateway.ResponseType_INTEGRATION_FAILURE(), Status: "502", Code: "BAD_GATEWAY",
			Message: "The function behind this route failed or could not be invoked. Lambda takes at most 6 MB per " +
				"invocation, the body base64-encoded (about 4.5 MB of file); for MLflow artifacts " + MultipartHint},
	}
}

// Template is the body API Gateway renders for e. Messages are static JSON strings; API Gateway's
// own message is already a quoted JSON string in $context.error.messageString.
func (e GatewayError) Template() string {
	msg := "$context.error.messageString"
	if e.Message != "" {
		msg = jsonString(e.Message)
	}
	return fmt.Sprintf(`{"detail":%s,"error":"%s","error_code":"%s","message":%s,"request_id":"$context.requestId"}`,
		msg, e.Code, e.Code, msg)
}

func jsonString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// CORSAllowHeaders are the request headers browsers may send.
var CORSAllowHeaders = []string{"Authorization", "X-API-Key", "Content-Type", "Idempotency-Key", "X-Request-Id"}

func newAPI(scope constructs.Construct, env EnvConfig, authorizer *Function) *API {
	c := constructs.NewConstruct(scope, jsii.String("Api"))
	removal := awscdk.RemovalPolicy_DESTROY
	if env.Retain {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	accessLog := awslogs.NewLogGroup(c, jsii.String("AccessLogs"), &awslogs.LogGroupProps{
		Retention:     retentionDays(env.LogRetentionDays),
		RemovalPolicy: removal,
	})
	// Access logs list what happened, never what was sent: no headers, no bodies, no query strings.
	format := `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
		`"requestTime":"$context.requestTime","httpMethod":"$context.httpMethod",` +
		`"resourcePath":"$context.resourcePath","status":"$context.status",` +
		`"protocol":"$context.protocol","responseLength":"$context.responseLength",` +
		`"responseLatency":"$context.responseLatency","integrationLatency":"$context.integrationLatency",` +
		`"integrationStatus":"$context.integrationStatus","principalId":"$context.authorizer.principalId",` +
		`"errorType":"$context.error.responseType","authorizerError":"$context.authorizer.error"}`

	api := awsapigateway.NewRestApi(c, jsii.String("RestApi"), &awsapigateway.RestApiProps{
		RestApiName:    jsii.String(fmt.Sprintf("hokusai-registry-%s", env.Name)),
		Description:    jsii.String("Hokusai registry gateway: model registration, MLflow proxy, API keys"),
		EndpointTypes:  &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole: jsii.Bool(true),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(env.Name),
			TracingEnabled:       jsii.Bool(true),
			DataTraceEnabled:     jsii.Bool(false), // data tracing would log keys and bodies
			LoggingLevel:         awsapigateway.MethodLoggingLevel_ERROR,
			MetricsEnabled:       jsii.Bool(true),
			ThrottlingRateLimit:  jsii.Number(env.ThrottleRate),
			ThrottlingBurstLimit: jsii.Number(env.ThrottleBurst),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLog),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(format)),
		},
		// Every body travels base64 between API Gateway and Lambda: artifacts are binary whatever
		// their Content-Type, and text decoded as UTF-8 would be corrupted.
		BinaryMediaTypes: jsii.Strings("*/*"),
		DefaultCorsPreflightOptions: &awsapigateway.CorsOptions{
			AllowOrigins: awsapigateway.Cors_ALL_ORIGINS(),
			AllowMethods: awsapigateway.Cors_ALL_METHODS(),
			AllowHeaders: jsii.Strings(CORSAllowHeaders...),
			MaxAge:       awscdk.Duration_Hours(jsii.Number(1)),
		},
	})
	for _, ge := range GatewayErrors() {
		headers := map[string]*string{
			"Content-Type":                jsii.String("'application/json'"),
			"Access-Control-Allow-Origin": jsii.String("'*'"),
		}
		for k, v := range ge.Headers {
			headers[k] = jsii.String("'" + v + "'")
		}
		var status *string
		if ge.Status != "" {
			status = jsii.String(ge.Status)
		}
		api.AddGatewayResponse(jsii.String("Response"+strings.ReplaceAll(*ge.Type.ResponseType(), "_", "")),
			&awsapigateway.GatewayResponseOptions{
				Type:            ge.Type,
				StatusCode:      status,
				ResponseHeaders: &headers,
				Templates:       &map[string]*string{"application/json": jsii.String(ge.Template())},
			})
	}

	cdknag.NagSuppressions_AddResourceSuppressions(api, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-APIG2"), Reason: jsii.String(
			"Bodies are validated by the functions, which answer field-level 422s; a gateway model would answer a less precise 400.")},
		{Id: jsii.String("AwsSolutions-APIG3"), Reason: jsii.String(
			"Every route but health and preflight is behind the API-key authorizer and stage throttling; a WAF web ACL can be associated per deployment.")},
		{Id: jsii.String("AwsSolutions-IAM4"), Reason: jsii.String(
			"The API Gateway account's CloudWatch role uses AmazonAPIGatewayPushToCloudWatchLogs, the policy API Gateway requires for execution logs.")},
	}, jsii.Bool(true))
	// Without gateway caching the authorizer sees every request, so X-API-Key works too. Caching
	// needs an identity source, and API Gateway then answers 401 itself when it is missing: with
	// caching on, only the Authorization header can carry the key (SPEC section 4).
	var sources []*string
	if env.AuthorizerCacheTTLSeconds > 0 {
		sources = []*string{awsapigateway.IdentitySource_Header(jsii.String("Authorization"))}
	}
	authz := awsapigateway.NewRequestAuthorizer(c, jsii.String("Authorizer"), &awsapigateway.RequestAuthorizerProps{
		AuthorizerName:  jsii.String("hokusai-api-key"),
		Handler:         authorizer.Lambda,
		IdentitySources: &sources,
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(float64(env.AuthorizerCacheTTLSeconds))),
	})
	// The UI's routes take a key or the session cookie. API Gateway requires every identity source
	// when it caches results, and answers 401 itself without one, so no single header can be the
	// source; and the cookie's decision must not be cached by a gateway that cannot see which
	// route it is reused on. So this authorizer has no identity source and no result cache: it is
	// invoked on every UI request, where its in-memory caches answer (a revoked key's session ends
	// within AUTH_CACHE_TTL), and it accepts the cookie only on uisession.UIResources.
	ui := awsapigateway.NewRequestAuthorizer(c, jsii.String("UIAuthorizer"), &awsapigateway.RequestAuthorizerProps{
		AuthorizerName:  jsii.String("hokusai-ui-session"),
		Handler:         authorizer.Lambda,
		IdentitySources: &[]*string{},
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(0)),
	})
	return &API{RestAPI: api, AccessLog: accessLog, Authorizer: authz, UIAuthorizer: ui}
}

// Route adds method on path (relative to the root) with a Lambda proxy integration. Public routes
// (health) have no authorizer, by design.
func (a *API) Route(path, method string, fn *Function, access Access) awsapigateway.Method {
	res := a.RestAPI.Root().ResourceForPath(jsii.String(path))
	opts := &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_NONE}
	if access == authorized {
		opts = &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_CUSTOM, Authorizer: a.Authorizer}
	}
	m := res.AddMethod(jsii.String(method), awsapigateway.NewLambdaIntegration(fn.Lambda, nil), opts)
	if access == authorized {
		suppressCognito(m)
	} else {
		suppressPublic(m, "the health checks and the UI's sign-in page, link landing and sign-out are public: they run before a caller has a key or session, and check their own tokens")
	}
	return m
}

// Proxy routes every method on mount/{proxy+} to fn as a streamed Lambda proxy integration.
func (a *API) Proxy(mount string, fn *Function) {
	a.ProxyRoute(mount+"/{proxy+}", "ANY", fn)
}

// ProxyRoute routes method on path to fn as a streamed Lambda proxy integration, behind the
// authorizer: the function is a streaming handler, so every route to it streams.
func (a *API) ProxyRoute(path, method string, fn *Function) {
	a.streamed(path, method, fn, a.Authorizer)
}

// UIProxyRoute is ProxyRoute for a route of the MLflow UI, behind UIAuthorizer: a key or the
// session cookie. path must be one of uisession.UIResources, the only resources on which the
// authorizer accepts the cookie.
func (a *API) UIProxyRoute(path, method string, fn *Function) {
	if !uisession.IsUIResource("/" + path) {
		panic(fmt.Sprintf("UIProxyRoute %s: not one of uisession.UIResources %v", path, uisession.UIResources()))
	}
	a.streamed(path, method, fn, a.UIAuthorizer)
}

func (a *API) streamed(path, method string, fn *Function, authz awsapigateway.IAuthorizer) {
	res := a.RestAPI.Root().ResourceForPath(jsii.String(path))
	m := res.AddMethod(jsii.String(method), awsapigateway.NewLambdaIntegration(fn.Lambda, &awsapigateway.LambdaIntegrationOptions{
		ResponseTransferMode: awsapigateway.ResponseTransferMode_STREAM,
	}), &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_CUSTOM, Authorizer: authz})
	suppressCognito(m)
}

func suppressCognito(m awsapigateway.Method) {
	cdknag.NagSuppressions_AddResourceSuppressions(m, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-COG4"),
		Reason: jsii.String("Callers authenticate with Hokusai API keys through the Lambda REQUEST authorizer, not Cognito."),
	}}, jsii.Bool(false))
}

// PreflightAsText keeps CORS preflight working with binary media type */*: the MOCK
// integration must treat the (empty) request as text to apply its template.
func (a *API) PreflightAsText() {
	for _, m := range *a.RestAPI.Methods() {
		if *m.HttpMethod() == "OPTIONS" {
			m.Node().DefaultChild().(awscdk.CfnResource).AddPropertyOverride(
				jsii.String("Integration.ContentHandling"), jsii.String("CONVERT_TO_TEXT"))
		}
	}
}

func suppressPublic(m awsapigateway.Method, why string) {
	cdknag.NagSuppressions_AddResourceSuppressions(m, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String("AwsSolutions-APIG4"), Reason: jsii.String("Public by design: " + why + ".")},
		{Id: jsii.String("AwsSolutions-COG4"), Reason: jsii.String("Public by design: " + why + ".")},
	}, jsii.Bool(false))
}
