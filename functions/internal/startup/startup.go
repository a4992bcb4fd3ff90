// Package startup is what every function's main does before lambda.Start: read its configuration
// once, make its logger, build its AWS configuration and its MLflow credentials — ending the process at init, with a JSON
// line naming what is wrong, when any of it fails, so a bad deployment never serves a request.
package startup

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/uisession"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/awsenv"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/config"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/logging"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/secrets"
	"github.com/hokusai-protocol/registry-gateway/shared/registry/upstream"
)

// Leveled is a configuration that embeds config.Common.
type Leveled interface{ Level() slog.Level }

// Config loads T from the environment and returns it with the function's logger.
func Config[T Leveled](function string) (T, *slog.Logger) {
	cfg, err := config.Load[T](nil)
	log := logging.New(os.Stdout, cfg.Level(), function)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		os.Exit(1)
	}
	return cfg, log
}

// AWS returns the AWS SDK configuration Lambda's environment describes.
func AWS(log *slog.Logger) aws.Config {
	cfg, err := awsenv.Config(nil)
	if err != nil {
		log.Error("invalid AWS configuration", "error", err)
		os.Exit(1)
	}
	return cfg
}

// Upstream resolves the MLflow credentials of cfg (reading their secret, for basic and bearer,
// once per container) that every call the function makes to MLflow carries.
func Upstream(log *slog.Logger, cfg upstream.Config) upstream.Credentials {
	creds, err := upstream.LoadCredentials(context.Background(), cfg, Secrets(log, cfg))
	if err != nil {
		log.Error("MLflow upstream credentials", "error", err)
		os.Exit(1)
	}
	return creds
}

// Secrets is the Secrets Manager client that reads cfg's upstream secret, or nil when cfg names
// none. The health function loads its credentials with it itself (health.Load), so that a
// secret not filled in yet leaves /health answering.
func Secrets(log *slog.Logger, cfg upstream.Config) upstream.SecretsAPI {
	if cfg.UpstreamSecretARN == "" {
		return nil
	}
	return secretsmanager.NewFromConfig(AWS(log))
}

// SessionCodec reads the UI session secret arn once and returns the codec it keys, ending the
// process when the secret cannot be read or is too short.
func SessionCodec(log *slog.Logger, awsCfg aws.Config, arn string) *uisession.Codec {
	secret, err := secrets.Load(context.Background(), secretsmanager.NewFromConfig(awsCfg), arn, "UI session secret")
	if err == nil {
		var codec *uisession.Codec
		if codec, err = uisession.NewCodec(secret); err == nil {
			return codec
		}
	}
	log.Error("UI session secret", "error", err)
	os.Exit(1)
	return nil
}
