package stack

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Alarms notifies one topic; the environment's alarm e-mail subscribes to it.
type Alarms struct {
	Topic awssns.Topic
	scope constructs.Construct
}

func newAlarms(scope constructs.Construct, env EnvConfig, api *API) *Alarms {
	c := constructs.NewConstruct(scope, jsii.String("Alarms"))
	topic := awssns.NewTopic(c, jsii.String("Topic"), &awssns.TopicProps{
		DisplayName: jsii.String(fmt.Sprintf("Hokusai registry gateway alarms (%s)", env.Name)),
		EnforceSSL:  jsii.Bool(true),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(topic, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SNS2"),
		Reason: jsii.String("Alarm notifications carry no secrets; CloudWatch cannot publish to a topic under the AWS-managed SNS key, " +
			"and a customer key per environment costs more than the data is worth."),
	}}, jsii.Bool(false))
	if env.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(env.AlarmEmail), nil))
	}
	a := &Alarms{Topic: topic, scope: c}

	five := awscdk.Duration_Minutes(jsii.Number(5))
	// 5XXError's average is the share of requests that failed with a 5xx.
	a.add("Api5xxRate", "More than 5% of API requests answered 5xx", api.RestAPI.MetricServerError(
		&awscloudwatch.MetricOptions{Statistic: jsii.String("Average"), Period: five}), 0.05, 2, 3)

	return a
}

// functions adds each function's error and throttle alarms; call it once every function exists.
func (a *Alarms) functions(fns map[string]*Function) {
	five := awscdk.Duration_Minutes(jsii.Number(5))
	names := make([]string, 0, len(fns))
	for n := range fns {
		names = append(names, n)
	}
	slices.Sort(names) // stable logical ids and template order
	for _, n := range names {
		fn := fns[n].Lambda
		id := exportedName(n)
		a.add(id+"Errors", fmt.Sprintf("The %s function failed", n),
			fn.MetricErrors(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}), 1, 1, 1)
		a.add(id+"Throttles", fmt.Sprintf("The %s function was throttled", n),
			fn.MetricThrottles(&awscloudwatch.MetricOptions{Statistic: jsii.String("Sum"), Period: five}), 1, 1, 1)
	}
}

// add creates an alarm at or above threshold in `datapoints` of the last `periods` periods;
// missing data is fine.
func (a *Alarms) add(id, description string, metric awscloudwatch.IMetric, threshold float64, datapoints, periods float64) awscloudwatch.Alarm {
	return a.alarm(id, description, metric, threshold, datapoints, periods, awscloudwatch.TreatMissingData_NOT_BREACHING)
}

// addMissingBreaches is add for a metric that must always be reported: no data alarms too.
func (a *Alarms) addMissingBreaches(id, description string, metric awscloudwatch.IMetric, threshold float64, datapoints, periods float64) awscloudwatch.Alarm {
	return a.alarm(id, description, metric, threshold, datapoints, periods, awscloudwatch.TreatMissingData_BREACHING)
}

func (a *Alarms) alarm(id, description string, metric awscloudwatch.IMetric, threshold float64, datapoints, periods float64, missing awscloudwatch.TreatMissingData) awscloudwatch.Alarm {
	alarm := awscloudwatch.NewAlarm(a.scope, jsii.String(id), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(description),
		Metric:             metric,
		Threshold:          jsii.Number(threshold),
		EvaluationPeriods:  jsii.Number(periods),
		DatapointsToAlarm:  jsii.Number(datapoints),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   missing,
	})
	alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(a.Topic))
	return alarm
}
