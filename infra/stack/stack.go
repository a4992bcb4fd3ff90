// Package stack defines the Hokusai Registry Gateway's one CDK stack. It reads top-down like the
// architecture of SPEC section 2: data, events, functions, API, alarms — each its own construct.
package stack

import (
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/regstore"
)

// Props configures the stack.
type Props struct {
	awscdk.StackProps
	Env EnvConfig
	// BuildDir holds one folder per function with its bootstrap binary (`make build` writes it).
	BuildDir string
}

// Stack is the built stack with handles that tests and the local harness's drift check use.
type Stack struct {
	awscdk.Stack
	Data      *Data
	Events    *Events
	Functions map[string]*Function
	API       *API
	Delivery  *Delivery
	Audit     *Audit
	Alarms    *Alarms
	buildDir  string
}

// New builds the stack for one environment.
func New(scope constructs.Construct, id string, props Props) *Stack {
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	awscdk.Tags_Of(st).Add(jsii.String("project"), jsii.String("hokusai-registry-gateway"), nil)
	awscdk.Tags_Of(st).Add(jsii.String("environment"), jsii.String(props.Env.Name), nil)

	s := &Stack{Stack: st, Functions: map[string]*Function{}, buildDir: props.BuildDir}
	s.Data = newData(st, props.Env)
	s.Events = newEvents(st, props.Env)

	fn := func(name string, env map[string]string) *Function {
		f := newFunction(st, name, FunctionProps{
			Env:       props.Env,
			AssetPath: filepath.Join(props.BuildDir, name),
			Environ:   env,
		})
		s.Functions[name] = f
		return f
	}
	env := props.Env
	up := newUpstream(st, env)
	health := fn("health", up.environ(nil))
	authorizer := fn("authorizer", s.authorizerEnv(env))
	keys := fn("keys", map[string]string{
		"AUTH_SOURCE":          env.AuthSource,
		"KEYS_TABLE":           *s.Data.Keys.TableName(),
		"ADMIN_EMAILS":         strings.Join(env.AdminEmails, ","),
		"AUTH_CACHE_TTL":       seconds(env.AuthCacheTTLSeconds),
		"AUTHORIZER_CACHE_TTL": seconds(env.AuthorizerCacheTTLSeconds),
		"KEY_ENVIRONMENT":      env.KeyEnvironment,
		"ALLOWED_KEY_PREFIXES": strings.Join(env.AllowedKeyPrefixes, ","),
	})
	s.grantAuth(env, authorizer, keys)
	proxy := s.mlflowProxy(st, env, props.BuildDir, up)
	register := fn("register", up.environ(permissionsEnv(env, map[string]string{
		"MLFLOW_TIMEOUT":      "8s",
		"REGISTRATIONS_TABLE": *s.Data.Registrations.TableName(),
		"EVENT_BUS_NAME":      *s.Events.Bus.EventBusName(),
		"ADMIN_EMAILS":        strings.Join(env.AdminEmails, ","),
	})))
	// Every function that calls MLflow reaches it the same way (shared/registry/upstream).
	up.grant(health, proxy, register)
	outbox := fn("outbox", map[string]string{
		// The outbox's metric dimension; no other function reads it.
		"HOKUSAI_ENV":         env.Name,
		"REGISTRATIONS_TABLE": *s.Data.Registrations.TableName(),
		"EVENT_BUS_NAME":      *s.Events.Bus.EventBusName(),
		"OUTBOX_BASE_BACKOFF": seconds(env.OutboxBackoffSeconds),
	})
	s.Data.Registrations.Grant(register.Role, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"),
		jsii.String("dynamodb:UpdateItem"), jsii.String("dynamodb:Query"))
	// The registration checks permissions on the model it registers under (one BatchGetItem of its
	// owner, grants and the pattern grants, shared/auth/permstore).
	s.grantRegistrations(register, []string{"dynamodb:BatchGetItem"}, permissionReadPrefixes...)
	s.Data.Registrations.Grant(outbox.Role, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:UpdateItem"), jsii.String("dynamodb:Query"))
	grantPutEvents(s.Events.Bus, register)
	grantPutEvents(s.Events.Bus, outbox)

	// Every write and refusal the proxy, the registration and the keys API see, into the audit log group.
	s.Audit = newAudit(st, env, s, proxy, register, keys)

	s.API = newAPI(st, env, authorizer)
	s.API.Route("health", "GET", health, public)
	s.API.Route("health/mlflow", "GET", health, public)
	s.API.Route("api/keys", "POST", keys, authorized)
	s.API.Route("api/keys", "GET", keys, authorized)
	s.API.Route("api/keys/{key_id}", "DELETE", keys, authorized)
	// The stock MLflow client, whether its tracking URI is <api>/api/mlflow, <api>/mlflow or the
	// bare <api> (SPEC section 6), and MLflow's web UI where the links it prints point. Streamed,
	// so downloads and the UI's files are not capped at 6 MB or buffered.
	for _, mount := range MLflowMounts {
		s.API.Proxy(mount, proxy)
	}
	for _, r := range MLflowRoutes {
		s.API.ProxyRoute(r.Path, r.Method, proxy)
	}
	s.API.Route("api/models/register", "POST", register, authorized)
	s.API.Route("api/models/tokenized-registration-events", "POST", register, authorized)
	s.API.Route("api/registrations/{registration_id}", "GET", register, authorized)
	s.signin(st, env, fn, authorizer, proxy)
	s.API.PreflightAsText()

	s.Alarms = newAlarms(st, env, s.API)
	s.Delivery = newDelivery(st, env, s, outbox, s.Alarms)
	s.Alarms.functions(s.Functions)

	awscdk.NewCfnOutput(st, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value:       s.API.RestAPI.Url(),
		Description: jsii.String("Base URL of the gateway; MLFLOW_TRACKING_URI is <this>api/mlflow"),
	})
	awscdk.NewCfnOutput(st, jsii.String("EventBusName"), &awscdk.CfnOutputProps{Value: s.Events.Bus.EventBusName()})
	awscdk.NewCfnOutput(st, jsii.String("KeysFunctionName"), &awscdk.CfnOutputProps{
		Value:       keys.Lambda.FunctionName(),
		Description: jsii.String("Invoke with {\"bootstrap_admin\":{…}} and IAM credentials to mint the first admin key"),
	})
	return s
}

// MLflowMounts are the API paths the MLflow proxy serves, each with a {proxy+} below it: the
// tracking-URI mounts and MLflow's API roots for a bare-host tracking URI. The web UI's routes
// under each mount (uisession.UIRoutes) are added with the sign-in routes, behind the authorizer
// that also takes the session cookie.
var MLflowMounts = []string{"api/mlflow", "mlflow", "api/2.0/mlflow", "api/2.0/mlflow-artifacts", "api/3.0/mlflow"}

// MLflowRoutes are the proxy's paths outside its mounts' {proxy+}, each open for the one method
// its callers use (the catalog's): for a bare-host tracking URI the client's server version, which
// it asks before it exports spans, and the OTLP span export itself (under the other tracking URIs
// they arrive through api/mlflow and mlflow).
var MLflowRoutes = []struct{ Path, Method string }{
	{"version", "GET"}, {"v1/traces", "POST"},
}

// upstream is how the functions reach MLflow: the same MLFLOW_URL and MLFLOW_UPSTREAM_AUTH for
// each, and, for basic and bearer, the one secret they all read.
type upstream struct {
	env    EnvConfig
	secret awssecretsmanager.Secret
}

func newUpstream(scope constructs.Construct, env EnvConfig) *upstream {
	u := &upstream{env: env}
	if env.MLflowUpstreamAuth == "basic" || env.MLflowUpstreamAuth == "bearer" {
		// Operators put {"username","password"} or {"token"} here after the first deploy.
		u.secret = awssecretsmanager.NewSecret(scope, jsii.String("MlflowUpstreamCredentials"), &awssecretsmanager.SecretProps{
			Description: jsii.String("Credentials the functions send to MLflow (MLFLOW_UPSTREAM_AUTH=" + env.MLflowUpstreamAuth + ")"),
		})
		cdknag.NagSuppressions_AddResourceSuppressions(u.secret, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-SMG4"),
			Reason: jsii.String("The MLflow server's credentials are issued by that server; rotation happens there and is copied in by its operators."),
		}}, jsii.Bool(false))
	}
	return u
}

// environ is extra with the upstream variables added.
func (u *upstream) environ(extra map[string]string) map[string]string {
	e := map[string]string{"MLFLOW_URL": u.env.MLflowURL, "MLFLOW_UPSTREAM_AUTH": u.env.MLflowUpstreamAuth}
	if u.secret != nil {
		e["MLFLOW_UPSTREAM_SECRET_ARN"] = *u.secret.SecretArn()
	}
	maps.Copy(e, extra)
	return e
}

// grant lets each function read the secret, and only that, and only GetSecretValue (the functions
// read it once at start).
func (u *upstream) grant(fns ...*Function) {
	if u.secret == nil {
		return
	}
	for _, f := range fns {
		f.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: &[]*string{u.secret.SecretArn()},
		}))
	}
}

// mlflowProxy is the function behind the MLflow mounts.
func (s *Stack) mlflowProxy(scope constructs.Construct, env EnvConfig, buildDir string, up *upstream) *Function {
	e := up.environ(permissionsEnv(env, map[string]string{
		"MLFLOW_TIMEOUT":         "25s",
		"MLFLOW_AJAX_API":        strconv.FormatBool(env.MLflowAjaxAPI),
		"MLFLOW_SERVE_ARTIFACTS": strconv.FormatBool(env.MLflowServeArtifacts),
		"REGISTRY_ADMIN_ONLY":    strconv.FormatBool(env.RegistryAdminOnly),
		"ADMIN_EMAILS":           strings.Join(env.AdminEmails, ","),
		"REGISTRATIONS_TABLE":    *s.Data.Registrations.TableName(),
		"EVENT_BUS_NAME":         *s.Events.Bus.EventBusName(),
	}))
	f := newFunction(scope, "mlflowproxy", FunctionProps{
		Env: env, AssetPath: filepath.Join(buildDir, "mlflowproxy"), Environ: e, Memory: 512,
		// The gateway's 29 s bounds the wait for the first byte; a streamed download may then run
		// for as long as API Gateway streams (15 minutes).
		Timeout: awscdk.Duration_Minutes(jsii.Number(15)),
	})
	// The proxy records who creates a registered model or version through MLflow (it reads and
	// conditionally writes owner items) and the registry changes the bus did not take (it puts
	// CHANGE# items for the outbox). It checks permissions (it reads owners and grants, and claims
	// the owner of an experiment it creates) and manages grants (MLflow's auth API: a user grant is
	// a TransactWriteItems of two UpdateItems, authorized per item as UpdateItem). It may touch no
	// other item of the table (no registration or idempotency record) and none of its indexes.
	s.grantRegistrations(f, []string{"dynamodb:GetItem", "dynamodb:PutItem"}, regstore.OwnerPrefix, regstore.ChangePrefix)
	s.grantRegistrations(f, []string{"dynamodb:GetItem", "dynamodb:BatchGetItem"}, permissionReadPrefixes...)
	s.grantRegistrations(f, []string{"dynamodb:PutItem"}, permstore.ExperimentOwnerPrefix)
	s.grantRegistrations(f, []string{"dynamodb:UpdateItem"}, permstore.GrantsPrefix, permstore.UserGrantsPrefix)
	// It publishes each registry change MLflow accepted (shared/registry/mlflowproxy, registry.go).
	grantPutEvents(s.Events.Bus, f)
	s.Functions["mlflowproxy"] = f
	return f
}

// permissionReadPrefixes start the keys of the items a permission check or listing reads: owners
// of registered models and of experiments, the grants on each resource (and the pattern grants,
// GRANTS#PATTERNS), each user's grants.
var permissionReadPrefixes = []string{
	permstore.OwnerPrefix, permstore.ExperimentOwnerPrefix, permstore.GrantsPrefix, permstore.UserGrantsPrefix,
}

// grantRegistrations lets f call actions on the registrations table's items whose key starts with
// one of prefixes, and on no other item or index.
func (s *Stack) grantRegistrations(f *Function, actions []string, prefixes ...string) {
	like := make([]string, len(prefixes))
	for i, p := range prefixes {
		like[i] = p + "*"
	}
	f.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings(actions...),
		Resources: jsii.Strings(*s.Data.Registrations.TableArn()),
		Conditions: &map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": like},
		},
	}))
}

// permissionsEnv is extra with the permission settings of the functions that enforce them
// (shared/auth/permstore Config) added.
func permissionsEnv(env EnvConfig, extra map[string]string) map[string]string {
	e := map[string]string{
		"PERMISSIONS_DEFAULT":   env.PermissionsDefault,
		"PERMISSIONS_CACHE_TTL": seconds(env.PermissionsCacheTTLSeconds),
	}
	maps.Copy(e, extra)
	return e
}

// authorizerEnv is the authorizer's configuration (SPEC section 4).
func (s *Stack) authorizerEnv(env EnvConfig) map[string]string {
	e := map[string]string{
		"AUTH_SOURCE":          env.AuthSource,
		"ALLOWED_KEY_PREFIXES": strings.Join(env.AllowedKeyPrefixes, ","),
		"AUTH_CACHE_TTL":       seconds(env.AuthCacheTTLSeconds),
	}
	e["SESSIONS_TABLE"] = *s.Data.Sessions.TableName()
	if env.AuthSource == "external" {
		e["AUTH_SERVICE_URL"] = env.AuthServiceURL
		e["AUTH_SERVICE_ID"] = env.AuthServiceID
		e["AUTH_STALE_GRACE"] = seconds(env.AuthStaleGraceSeconds)
		e["VALIDATION_CACHE_TABLE"] = *s.Data.ValidationCache.TableName()
	} else {
		e["KEYS_TABLE"] = *s.Data.Keys.TableName()
	}
	return e
}

// grantAuth gives the authorizer read access to exactly the table its source needs, and the keys
// function what its API does to the keys table — nothing else.
func (s *Stack) grantAuth(env EnvConfig, authorizer, keys *Function) {
	if env.AuthSource == "external" {
		s.Data.ValidationCache.Grant(authorizer.Role, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"))
	} else {
		s.Data.Keys.Grant(authorizer.Role, jsii.String("dynamodb:GetItem"))
	}
	s.Data.Keys.Grant(keys.Role, jsii.String("dynamodb:GetItem"), jsii.String("dynamodb:PutItem"),
		jsii.String("dynamodb:UpdateItem"), jsii.String("dynamodb:Query"), jsii.String("dynamodb:Scan"))
}

func seconds(n int) string { return fmt.Sprintf("%ds", n) }

// StackName is the CloudFormation stack name of an environment.
func StackName(env string) string { return fmt.Sprintf("HokusaiRegistryGateway-%s", env) }

// signin is sign-in to the MLflow UI (shared/auth/signin): the session secret, the uisession
// function and its routes, the authorizer's read of sessions, and the UI's ajax-api routes, where
// the session cookie stands in for a key.
func (s *Stack) signin(scope constructs.Construct, env EnvConfig, fn func(string, map[string]string) *Function, authorizer, proxy *Function) {
	secret := awssecretsmanager.NewSecret(scope, jsii.String("UiSessionSecret"), &awssecretsmanager.SecretProps{
		Description:          jsii.String("HMAC-SHA256 key of the MLflow UI's session cookies"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{PasswordLength: jsii.Number(64), ExcludePunctuation: jsii.Bool(true)},
	})
	cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("Rotating the key signs every browser out; it is rotated by hand (a new version and a redeploy). " +
			"Sessions are also server-side, so one ends without rotating."),
	}}, jsii.Bool(false))
	ui := fn("uisession", map[string]string{
		"SESSIONS_TABLE":     *s.Data.Sessions.TableName(),
		"SESSION_SECRET_ARN": *secret.SecretArn(),
	})
	// Only GetSecretValue, only this secret: both functions read it once at start.
	for _, f := range []*Function{ui, authorizer} {
		f.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("secretsmanager:GetSecretValue"),
			Resources: &[]*string{secret.SecretArn()},
		}))
	}
	authorizer.Lambda.AddEnvironment(jsii.String("SESSION_SECRET_ARN"), secret.SecretArn(), nil)
	s.Data.Sessions.Grant(ui.Role, jsii.String("dynamodb:PutItem"), jsii.String("dynamodb:DeleteItem"))
	// The authorizer reads sessions, never links.
	authorizer.Role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("dynamodb:GetItem"),
		Resources: jsii.Strings(*s.Data.Sessions.TableArn()),
		Conditions: &map[string]any{
			"ForAllValues:StringLike": map[string]any{"dynamodb:LeadingKeys": []string{uisession.SessionPKPrefix + "*"}},
		},
	}))
	// A key, checked by the authorizer, for a session cookie or a sign-in link.
	s.API.Route(uisession.SessionsPath, "POST", ui, authorized)
	s.API.Route(uisession.LinksPath, "POST", ui, authorized)
	// Sign-out, the page and a link's landing come before a caller has a session; they check
	// their own cookie or token.
	s.API.Route(uisession.SignoutPath, "POST", ui, public)
	for _, m := range uisession.Mounts {
		s.API.Route(uisession.MountPath(m, uisession.PagePath), "GET", ui, public)
		s.API.Route(uisession.MountPath(m, uisession.LinkPath), "GET", ui, public)
		// The web UI's page, files, data calls and artifact views (uisession.UIRoutes), behind the
		// authorizer that takes a key or the session cookie.
		for _, r := range uisession.UIRoutes {
			s.API.UIProxyRoute(uisession.MountPath(m, r.Path), r.Method, proxy)
		}
	}
}
