package provision

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// logGroup creates g with its retention, so that a function writing into it (the audit
// function's PutLogEvents) finds it, as after a deployment.
func (p *provisioner) logGroup(ctx context.Context, g *template.LogGroup) error {
	_, err := p.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(g.Name)})
	if _, exists := errors.AsType[*logtypes.ResourceAlreadyExistsException](err); err != nil && !exists {
		return err
	}
	if g.RetentionDays == 0 {
		_, err = p.logs.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: aws.String(g.Name)})
		return err
	}
	_, err = p.logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{
		LogGroupName: aws.String(g.Name), RetentionInDays: aws.Int32(int32(g.RetentionDays)),
	})
	return err
}
