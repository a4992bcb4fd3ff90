package stack

import (
	"fmt"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogsdestinations"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/audit"
)

// Audit is the audit log (shared/platform/audit): its own log group, kept AuditRetentionDays;
// a subscription filter on each emitting function's log group that selects the audit lines
// (audit.FilterPattern); and the function those filters invoke, which writes the lines into the
// group. The emitting functions never call CloudWatch Logs themselves: the audit is off the
// request path.
type Audit struct {
	LogGroup awslogs.LogGroup
	Function *Function
	Filters  []awslogs.SubscriptionFilter
}

// AuditLogGroupName is the audit log group of an environment.
func AuditLogGroupName(env string) string { return fmt.Sprintf("/hokusai/%s/audit", env) }

func newAudit(scope constructs.Construct, env EnvConfig, s *Stack, emitters ...*Function) *Audit {
	c := constructs.NewConstruct(scope, jsii.String("Audit"))
	removal := awscdk.RemovalPolicy_DESTROY
	if env.Retain {
		removal = awscdk.RemovalPolicy_RETAIN
	}
	a := &Audit{}
	a.LogGroup = awslogs.NewLogGroup(c, jsii.String("LogGroup"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(AuditLogGroupName(env.Name)),
		Retention:     retentionDays(env.AuditRetentionDays),
		RemovalPolicy: removal,
	})
	fn := newFunction(c, "audit", FunctionProps{
		Env: env, AssetPath: filepath.Join(s.buildDir, "audit"),
		Environ: map[string]string{"AUDIT_LOG_GROUP": *a.LogGroup.LogGroupName()},
	})
	s.Functions["audit"] = fn
	a.Function = fn
	// It writes the audit group and nothing else: its streams, one per source stream.
	fn.Role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
		Resources: &[]*string{a.LogGroup.LogGroupArn(), jsii.String(*a.LogGroup.LogGroupArn() + ":log-stream:*")},
	}))
	for _, e := range emitters {
		// LambdaDestination also grants logs.amazonaws.com the right to invoke the function, for
		// this log group only.
		a.Filters = append(a.Filters, awslogs.NewSubscriptionFilter(c, jsii.String(exportedName(e.Name)+"Filter"), &awslogs.SubscriptionFilterProps{
			LogGroup:      e.LogGroup,
			Destination:   awslogsdestinations.NewLambdaDestination(fn.Lambda, nil),
			FilterPattern: awslogs.FilterPattern_Literal(jsii.String(audit.FilterPattern)),
		}))
	}
	return a
}
