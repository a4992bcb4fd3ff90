package stack

import (
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// FunctionProps configures one Lambda function.
type FunctionProps struct {
	Env       EnvConfig
	AssetPath string
	Environ   map[string]string
	// Timeout defaults to 29 s, API Gateway's integration timeout: a function never outlives its caller.
	Timeout awscdk.Duration
	Memory  float64
}

// Function is a Lambda with its own role and log group, so each function's rights are only its own.
type Function struct {
	Name     string
	Lambda   awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
}

func newFunction(scope constructs.Construct, name string, p FunctionProps) *Function {
	id := exportedName(name)
	c := constructs.NewConstruct(scope, jsii.String(id+"Function"))
	removal := awscdk.RemovalPolicy_DESTROY
	if p.Env.Retain {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	logs := awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     retentionDays(p.Env.LogRetentionDays),
		RemovalPolicy: removal,
	})
	// A role of our own instead of AWSLambdaBasicExecutionRole, whose logs:* reaches every log group.
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("Hokusai registry gateway %s function (%s)", name, p.Env.Name)),
	})
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{logs.LogGroupArn(), jsii.String(*logs.LogGroupArn() + ":log-stream:*")},
	}))

	env := map[string]*string{"LOG_LEVEL": jsii.String("INFO")}
	for k, v := range maps.All(p.Environ) {
		env[k] = jsii.String(v)
	}
	timeout := p.Timeout
	if timeout == nil {
		timeout = awscdk.Duration_Seconds(jsii.Number(29))
	}
	memory := p.Memory
	if memory == 0 {
		memory = 256
	}
	fn := awslambda.NewFunction(c, jsii.String("Lambda"), &awslambda.FunctionProps{
		Description:   jsii.String(fmt.Sprintf("Hokusai registry gateway: %s", name)),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(p.AssetPath), nil),
		Role:          role,
		LogGroup:      logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		Tracing:       awslambda.Tracing_ACTIVE,
		Timeout:       timeout,
		MemorySize:    jsii.Number(memory),
		Environment:   &env,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("X-Ray's PutTraceSegments/PutTelemetryRecords take no resource-level permissions (Resource *); " +
			"log streams are created at run time under this function's own log group only; " +
			"table grants include <table>/index/* so queries can use the table's own indexes."),
	}}, jsii.Bool(true))
	return &Function{Name: name, Lambda: fn, Role: role, LogGroup: logs}
}

// exportedName turns a function name such as "mlflowproxy" into a construct id ("Mlflowproxy").
func exportedName(name string) string { return strings.ToUpper(name[:1]) + name[1:] }

// retentionDays maps a number of days onto the nearest CloudWatch Logs retention not below it.
func retentionDays(days int) awslogs.RetentionDays {
	steps := []struct {
		days int
		r    awslogs.RetentionDays
	}{
		{1, awslogs.RetentionDays_ONE_DAY}, {3, awslogs.RetentionDays_THREE_DAYS},
		{5, awslogs.RetentionDays_FIVE_DAYS}, {7, awslogs.RetentionDays_ONE_WEEK},
		{14, awslogs.RetentionDays_TWO_WEEKS}, {30, awslogs.RetentionDays_ONE_MONTH},
		{60, awslogs.RetentionDays_TWO_MONTHS}, {90, awslogs.RetentionDays_THREE_MONTHS},
		{120, awslogs.RetentionDays_FOUR_MONTHS}, {150, awslogs.RetentionDays_FIVE_MONTHS},
		{180, awslogs.RetentionDays_SIX_MONTHS}, {365, awslogs.RetentionDays_ONE_YEAR},
		{400, awslogs.RetentionDays_THIRTEEN_MONTHS}, {545, awslogs.RetentionDays_EIGHTEEN_MONTHS},
		{731, awslogs.RetentionDays_TWO_YEARS}, {1827, awslogs.RetentionDays_FIVE_YEARS},
		{3653, awslogs.RetentionDays_TEN_YEARS},
	}
	for _, s := range steps {
		if days <= s.days {
			return s.r
		}
	}
	return awslogs.RetentionDays_INFINITE
}
