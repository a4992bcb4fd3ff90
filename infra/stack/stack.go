// Package stack defines the Hokusai Registry Gateway's one CDK stack. It reads top-down like the
// architecture of SPEC section 2: data, events, functions, API, alarms — each its own construct.
package stack

import (
	"fmt"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
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
}

// New builds the stack for one environment.
func New(scope constructs.Construct, id string, props Props) *Stack {
	st := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	awscdk.Tags_Of(st).Add(jsii.String("project"), jsii.String("hokusai-registry-gateway"), nil)
	awscdk.Tags_Of(st).Add(jsii.String("environment"), jsii.String(props.Env.Name), nil)

	s := &Stack{Stack: st, Functions: map[string]*Function{}}
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
	health := fn("health", map[string]string{"MLFLOW_URL": props.Env.MLflowURL})

	s.API = newAPI(st, props.Env)
	s.API.Route("health", "GET", health, false)
	s.API.Route("health/mlflow", "GET", health, false)

	newAlarms(st, props.Env, s.API, s.Functions)

	awscdk.NewCfnOutput(st, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value:       s.API.RestAPI.Url(),
		Description: jsii.String("Base URL of the gateway; MLFLOW_TRACKING_URI is <this>api/mlflow"),
	})
	awscdk.NewCfnOutput(st, jsii.String("EventBusName"), &awscdk.CfnOutputProps{Value: s.Events.Bus.EventBusName()})
	return s
}

// StackName is the CloudFormation stack name of an environment.
func StackName(env string) string { return fmt.Sprintf("HokusaiRegistryGateway-%s", env) }
