package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// EventSource is the source of every event this system publishes.
const EventSource = "hokusai.registry"

// Events holds the bus and its archive.
type Events struct {
	Bus     awsevents.EventBus
	Archive awsevents.Archive
}

func newEvents(scope constructs.Construct, env EnvConfig) *Events {
	c := constructs.NewConstruct(scope, jsii.String("Events"))
	bus := awsevents.NewEventBus(c, jsii.String("Bus"), &awsevents.EventBusProps{
		EventBusName: jsii.String(fmt.Sprintf("hokusai-registry-%s", env.Name)),
	})
	var retention awscdk.Duration
	if env.ArchiveRetentionDays > 0 {
		retention = awscdk.Duration_Days(jsii.Number(float64(env.ArchiveRetentionDays)))
	}
	archive := bus.Archive(jsii.String("Archive"), &awsevents.BaseArchiveProps{
		Description:  jsii.String("Every registry event, for replay"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(EventSource)},
		Retention:    retention,
	})
	return &Events{Bus: bus, Archive: archive}
}
