// Package awsenv builds the AWS SDK configuration of a function from the environment Lambda
// gives it: region, the execution role's credentials, and (locally) AWS_ENDPOINT_URL.
//
// config.LoadDefaultConfig would also link every other credential source (SSO, IMDS, STS
// web identity, processes, login) into each binary — a third of a function's size, for sources a
// Lambda never uses.
package awsenv

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Config reads AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and
// AWS_ENDPOINT_URL. lookup replaces os.LookupEnv when non-nil (tests).
func Config(lookup func(string) (string, bool)) (aws.Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	var missing []string
	region := get("AWS_REGION")
	if region == "" {
		region = get("AWS_DEFAULT_REGION")
	}
	if region == "" {
		missing = append(missing, "AWS_REGION")
	}
	key, secret := get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")
	if key == "" {
		missing = append(missing, "AWS_ACCESS_KEY_ID")
	}
	if secret == "" {
		missing = append(missing, "AWS_SECRET_ACCESS_KEY")
	}
	if len(missing) > 0 {
		return aws.Config{}, fmt.Errorf("AWS configuration: %s not set (Lambda sets them; locally the harness does)", strings.Join(missing, ", "))
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, get("AWS_SESSION_TOKEN"))),
	}
	if ep := get("AWS_ENDPOINT_URL"); ep != "" {
		if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
			return aws.Config{}, errors.New("AWS configuration: AWS_ENDPOINT_URL must be an http(s) URL")
		}
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}
