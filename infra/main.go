// Command infra is the CDK app: `cdk synth -c env=dev` (cdk.json runs it) builds the stack of one
// environment, with cdk-nag's AwsSolutions checks applied so a violation fails synthesis.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/hokusai-protocol/registry-gateway/infra/stack"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	if err := build(app); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	app.Synth(nil)
}

func build(app awscdk.App) error {
	ctx := func(key string) (string, bool) {
		v := app.Node().TryGetContext(jsii.String(key))
		if v == nil {
			return "", false
		}
		return fmt.Sprint(v), true
	}
	env, ok := ctx("env")
	if !ok {
		env = "dev"
	}
	cfg, err := stack.Load(env, ctx)
	if err != nil {
		return err
	}
	buildDir, ok := ctx("buildDir")
	if !ok {
		buildDir = "build"
	}
	// Environment-agnostic unless the CLI knows the account (cdk deploy with credentials).
	var target *awscdk.Environment
	if account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); account != "" && region != "" {
		target = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	stack.New(app, stack.StackName(env), stack.Props{
		StackProps: awscdk.StackProps{
			Env:         target,
			Description: jsii.String(fmt.Sprintf("Hokusai registry gateway (%s)", env)),
		},
		Env:      cfg,
		BuildDir: buildDir,
	})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return nil
}
