package webhook

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretsAPI is the part of the Secrets Manager client LoadSecret uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// LoadSecret reads the signing key once, at start: a missing or empty secret fails the cold start
// instead of every delivery. The key is the secret's string value as stored (the stack generates
// a plain string); errors never quote it.
func LoadSecret(ctx context.Context, sm SecretsAPI, arn string) ([]byte, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("read the webhook signing secret %s: %w", arn, err)
	}
	key := []byte(aws.ToString(out.SecretString))
	if out.SecretString == nil {
		key = out.SecretBinary
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("webhook signing secret %s: %w", arn, errors.New("the secret is empty"))
	}
	return key, nil
}
