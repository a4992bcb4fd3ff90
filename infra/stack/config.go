package stack

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/permstore"
)

// Environments are the deployments this stack knows, chosen with `-c env=<name>`.
var Environments = []string{"dev", "staging", "prod", "local"}

// EnvConfig is everything that differs between deployments. Values come from Defaults and may be
// overridden with CDK context (`-c mlflowUrl=https://…`), so a deployment needs no code change.
type EnvConfig struct {
	Name string
	// MLflowURL is the upstream tracking server the functions call.
	MLflowURL string
	// MLflowUpstreamAuth is none, basic, bearer or forward (SPEC section 6).
	MLflowUpstreamAuth string
	// MLflowAjaxAPI calls MLflow's ajax-api/ paths (an MLflow served under a static prefix).
	MLflowAjaxAPI bool
	// MLflowServeArtifacts is false when MLflow does not proxy artifacts (artifact paths then 503).
	MLflowServeArtifacts bool
	// RegistryAdminOnly restricts every MLflow path to admins.
	RegistryAdminOnly bool
	// AuthSource is dynamodb (keys issued here) or external (a Hokusai auth service).
	AuthSource     string
	AuthServiceURL string
	// AuthServiceID is the service_id sent to the external auth service.
	AuthServiceID string
	// AuthStaleGraceSeconds honours a recently expired positive validation while the external auth
	// service is down; 0 disables.
	AuthStaleGraceSeconds int
	// AdminEmails are treated as admins whatever their key's scopes.
	AdminEmails []string
	// KeyEnvironment is the env of keys this deployment issues (hk_<env>_…).
	KeyEnvironment string
	// AllowedKeyPrefixes are the key environments accepted (live, test, dev).
	AllowedKeyPrefixes []string
	// AuthCacheTTLSeconds bounds the authorizer's own caches.
	AuthCacheTTLSeconds int
	// AuthorizerCacheTTLSeconds is API Gateway's authorizer cache; 0 disables it.
	AuthorizerCacheTTLSeconds int
	// LogRetentionDays applies to every log group the stack creates.
	LogRetentionDays int
	// AuditRetentionDays applies to the audit log group (/hokusai/<env>/audit).
	AuditRetentionDays int
	// ArchiveRetentionDays keeps events for replay; 0 keeps them forever.
	ArchiveRetentionDays int
	AlarmEmail           string
	WebhookURL           string
	// WebhookDetailTypes are the detail types delivered to WebhookURL (default both).
	WebhookDetailTypes []string
	// OutboxBackoffSeconds is the outbox's first retry pause, doubled per failed attempt.
	OutboxBackoffSeconds int
	// WebhookRetrySeconds is the pause before a failed delivery is retried (the queue's
	// visibility timeout).
	WebhookRetrySeconds int
	// PermissionsDefault is every caller's level on an experiment or registered model they neither
	// own nor were granted (PERMISSIONS_DEFAULT): MLflow's name of a level, READ as MLflow's
	// basic-auth default.
	PermissionsDefault string
	// PermissionsCacheTTLSeconds is how long the proxy and the registration cache a resource's
	// owner and grants (PERMISSIONS_CACHE_TTL): the longest a grant change takes to be enforced.
	PermissionsCacheTTLSeconds int
	// ThrottleRate and ThrottleBurst are the stage's default method throttling.
	ThrottleRate  float64
	ThrottleBurst float64
	// Retain keeps tables and logs when the stack is deleted (production data).
	Retain bool
}

// Defaults returns the built-in configuration of env.
func Defaults(env string) (EnvConfig, error) {
	base := EnvConfig{
		Name:                       env,
		MLflowUpstreamAuth:         "none",
		MLflowServeArtifacts:       true,
		WebhookDetailTypes:         []string{"model_registered", "model_ready_to_deploy"},
		WebhookRetrySeconds:        60,
		OutboxBackoffSeconds:       30,
		AuthSource:                 "dynamodb",
		AllowedKeyPrefixes:         []string{"live", "test", "dev"},
		AuthServiceID:              "platform",
		AuthStaleGraceSeconds:      300,
		KeyEnvironment:             "dev",
		AuthCacheTTLSeconds:        60,
		AuthorizerCacheTTLSeconds:  0,
		LogRetentionDays:           30,
		AuditRetentionDays:         365,
		ArchiveRetentionDays:       90,
		PermissionsDefault:         permissions.Read.String(),
		PermissionsCacheTTLSeconds: 30,
		ThrottleRate:               50,
		ThrottleBurst:              100,
	}
	switch env {
	case "local":
		base.MLflowURL = "http://127.0.0.1:5000"
		// Revocation should be visible within seconds on a laptop, and a recovered EventBridge
		// caught up with as soon.
		base.AuthCacheTTLSeconds = 5
		base.OutboxBackoffSeconds = 2
		// A grant or revocation is enforced within a second, so end-to-end tests of grant changes
		// need not wait out the deployed 30 s.
		base.PermissionsCacheTTLSeconds = 1
		base.LogRetentionDays = 1
		base.AuditRetentionDays = 1
		base.ArchiveRetentionDays = 1
	case "dev":
		base.MLflowURL = "https://mlflow.dev.hokus.ai"
		base.LogRetentionDays = 14
		base.AuditRetentionDays = 90
		base.ArchiveRetentionDays = 14
	case "staging":
		base.MLflowURL = "https://mlflow.staging.hokus.ai"
		base.AllowedKeyPrefixes = []string{"live", "test"}
		base.KeyEnvironment = "test"
	case "prod":
		base.MLflowURL = "https://mlflow.hokus.ai"
		base.AllowedKeyPrefixes = []string{"live"}
		base.KeyEnvironment = "live"
		base.LogRetentionDays = 365
		// Audit trails outlive the logs: two years.
		base.AuditRetentionDays = 731
		base.ArchiveRetentionDays = 0
		base.ThrottleRate = 200
		base.ThrottleBurst = 400
		base.Retain = true
	default:
		return EnvConfig{}, fmt.Errorf("unknown environment %q: choose one of %s with -c env=<name>",
			env, strings.Join(Environments, ", "))
	}
	return base, nil
}

// Load returns env's configuration with context overrides applied; context is a lookup of CDK
// context values (nil when unset). Every override is validated, so a typo fails synth, not deploy.
func Load(env string, context func(key string) (string, bool)) (EnvConfig, error) {
	c, err := Defaults(env)
	if err != nil {
		return c, err
	}
	str := func(key string, dst *string) {
		if v, ok := context(key); ok {
			*dst = v
		}
	}
	var errs []string
	num := func(key string, dst *int) {
		if v, ok := context(key); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Sprintf("context %s must be a whole number ≥ 0, got %q", key, v))
				return
			}
			*dst = n
		}
	}
	str("mlflowUrl", &c.MLflowURL)
	str("mlflowUpstreamAuth", &c.MLflowUpstreamAuth)
	str("authSource", &c.AuthSource)
	str("authServiceUrl", &c.AuthServiceURL)
	str("authServiceId", &c.AuthServiceID)
	str("keyEnvironment", &c.KeyEnvironment)
	str("alarmEmail", &c.AlarmEmail)
	str("webhookUrl", &c.WebhookURL)
	str("permissionsDefault", &c.PermissionsDefault)
	boolean := func(key string, dst *bool) {
		if v, ok := context(key); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				errs = append(errs, fmt.Sprintf("context %s must be true or false, got %q", key, v))
				return
			}
			*dst = b
		}
	}
	boolean("mlflowAjaxApi", &c.MLflowAjaxAPI)
	boolean("mlflowServeArtifacts", &c.MLflowServeArtifacts)
	boolean("registryAdminOnly", &c.RegistryAdminOnly)
	if v, ok := context("webhookDetailTypes"); ok && v != "" {
		c.WebhookDetailTypes = strings.Split(v, ",")
	}
	if v, ok := context("allowedKeyPrefixes"); ok {
		c.AllowedKeyPrefixes = strings.Split(v, ",")
	}
	if v, ok := context("adminEmails"); ok && v != "" {
		c.AdminEmails = strings.Split(v, ",")
	}
	num("authCacheTtl", &c.AuthCacheTTLSeconds)
	num("authStaleGrace", &c.AuthStaleGraceSeconds)
	num("webhookRetrySeconds", &c.WebhookRetrySeconds)
	num("outboxBackoffSeconds", &c.OutboxBackoffSeconds)
	num("authorizerCacheTtl", &c.AuthorizerCacheTTLSeconds)
	num("logRetentionDays", &c.LogRetentionDays)
	num("auditRetentionDays", &c.AuditRetentionDays)
	num("archiveRetentionDays", &c.ArchiveRetentionDays)
	num("permissionsCacheTtl", &c.PermissionsCacheTTLSeconds)
	if len(errs) > 0 {
		return c, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return c, c.Validate()
}

// Validate checks the combination of values.
func (c EnvConfig) Validate() error {
	var errs []string
	if u, err := url.Parse(c.MLflowURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Sprintf("mlflowUrl must be an absolute http(s) URL, got %q", c.MLflowURL))
	}
	if !slices.Contains([]string{"none", "basic", "bearer", "forward"}, c.MLflowUpstreamAuth) {
		errs = append(errs, fmt.Sprintf("mlflowUpstreamAuth must be none, basic, bearer or forward, got %q", c.MLflowUpstreamAuth))
	}
	switch c.AuthSource {
	case "dynamodb":
	case "external":
		if u, err := url.Parse(c.AuthServiceURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			errs = append(errs, "authSource=external needs authServiceUrl, an absolute http(s) URL")
		}
	default:
		errs = append(errs, fmt.Sprintf("authSource must be dynamodb or external, got %q", c.AuthSource))
	}
	if len(c.AllowedKeyPrefixes) == 0 {
		errs = append(errs, "allowedKeyPrefixes must name at least one of live, test, dev")
	}
	for _, p := range c.AllowedKeyPrefixes {
		if !slices.Contains([]string{"live", "test", "dev"}, p) {
			errs = append(errs, fmt.Sprintf("allowedKeyPrefixes: %q is not one of live, test, dev", p))
		}
	}
	if !slices.Contains(c.AllowedKeyPrefixes, c.KeyEnvironment) {
		errs = append(errs, fmt.Sprintf("keyEnvironment %q must be one of the allowed key prefixes %v", c.KeyEnvironment, c.AllowedKeyPrefixes))
	}
	if c.AuditRetentionDays < 1 {
		errs = append(errs, "auditRetentionDays must be at least 1 day")
	}
	// The functions' own check of the settings, so synth fails where their start-up would.
	if level, err := permissions.ParseLevel(c.PermissionsDefault); err != nil {
		errs = append(errs, fmt.Sprintf("permissionsDefault: %v", err))
	} else if err := (permstore.Config{Default: level, CacheTTL: time.Duration(c.PermissionsCacheTTLSeconds) * time.Second}).Validate(); err != nil {
		errs = append(errs, fmt.Sprintf("permissionsCacheTtl: %v", err))
	}
	if c.AuthCacheTTLSeconds < 1 {
		errs = append(errs, "authCacheTtl must be at least 1 second")
	}
	if c.AuthorizerCacheTTLSeconds > 3600 {
		errs = append(errs, "authorizerCacheTtl must be at most 3600 seconds (API Gateway's limit)")
	}
	if c.WebhookRetrySeconds < 1 || c.WebhookRetrySeconds > 43200 {
		errs = append(errs, "webhookRetrySeconds must be between 1 and 43200 (SQS's visibility timeout range)")
	}
	for _, dt := range c.WebhookDetailTypes {
		if dt != "model_registered" && dt != "model_ready_to_deploy" {
			errs = append(errs, fmt.Sprintf("webhookDetailTypes: %q is not model_registered or model_ready_to_deploy", dt))
		}
	}
	if c.WebhookURL != "" {
		if u, err := url.Parse(c.WebhookURL); err != nil || u.Scheme != "https" && c.Name != "local" {
			errs = append(errs, fmt.Sprintf("webhookUrl must be an https URL, got %q", c.WebhookURL))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("environment %s: %s", c.Name, strings.Join(errs, "; "))
	}
	return nil
}
