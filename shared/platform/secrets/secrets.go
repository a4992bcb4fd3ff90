// Package secrets reads a Secrets Manager secret's value once, at start.
package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// API is the part of the Secrets Manager client Load uses.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Load returns the value of the secret arn (its string, else its binary), named what in errors; a
// missing or empty secret is an error, so a cold start fails instead of every request. Errors
// never quote the value.
func Load(ctx context.Context, sm API, arn, what string) ([]byte, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("read the %s %s: %w", what, arn, err)
	}
	v := []byte(aws.ToString(out.SecretString))
	if out.SecretString == nil {
		v = out.SecretBinary
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("%s %s: %w", what, arn, errors.New("the secret is empty"))
	}
	return v, nil
}
