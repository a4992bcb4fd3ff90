package mlflowproxy

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsAPI is the part of the Secrets Manager client the proxy uses; *secretsmanager.Client
// satisfies it, tests fake it.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Credentials is what the proxy presents to MLflow. The zero value presents nothing.
type Credentials struct {
	mode          AuthMode
	authorization string // the Authorization value for basic and bearer
}

// LoadCredentials resolves cfg's MLFLOW_UPSTREAM_AUTH once, at start: for basic and bearer it
// reads the secret (so a missing or malformed secret fails the cold start, not every request).
// sm may be nil when the mode needs no secret.
func LoadCredentials(ctx context.Context, cfg Config, sm SecretsAPI) (Credentials, error) {
	creds := Credentials{mode: cfg.UpstreamAuth}
	if !cfg.UpstreamAuth.needsSecret() {
		return creds, nil
	}
	if sm == nil {
		return creds, fmt.Errorf("MLFLOW_UPSTREAM_AUTH=%s needs a Secrets Manager client", cfg.UpstreamAuth)
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(cfg.UpstreamSecretARN)})
	if err != nil {
		return creds, fmt.Errorf("read MLflow credentials from %s: %w", cfg.UpstreamSecretARN, err)
	}
	if out.SecretString == nil {
		return creds, fmt.Errorf("MLflow credentials %s: the secret has no string value", cfg.UpstreamSecretARN)
	}
	creds.authorization, err = authorization(cfg.UpstreamAuth, *out.SecretString)
	if err != nil {
		return creds, fmt.Errorf("MLflow credentials %s: %w", cfg.UpstreamSecretARN, err)
	}
	return creds, nil
}

// authorization builds the header value from the secret's JSON. Errors never quote the secret.
func authorization(mode AuthMode, secret string) (string, error) {
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Token    string `json:"token"`
	}
	if err := json.Unmarshal([]byte(secret), &v); err != nil {
		return "", errors.New("the secret is not a JSON object")
	}
	switch mode {
	case AuthBasic:
		if v.Username == "" || v.Password == "" {
			return "", errors.New(`basic auth needs {"username": …, "password": …}`)
		}
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(v.Username+":"+v.Password)), nil
	case AuthBearer:
		if v.Token == "" {
			return "", errors.New(`bearer auth needs {"token": …}`)
		}
		return "Bearer " + v.Token, nil
	}
	return "", fmt.Errorf("MLFLOW_UPSTREAM_AUTH=%s takes no secret", mode)
}
