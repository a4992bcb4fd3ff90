package regstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ChangePrefix starts the keys of registry-change items: one registry event the MLflow proxy
// could not publish when MLflow accepted the write, kept for the outbox.
const ChangePrefix = "CHANGE#"

// ChangePK is the key of the item owing the registry event with eventID.
func ChangePK(eventID string) string { return ChangePrefix + eventID }

// change is a registry-change item. Its attributes are the ones of a registration record the
// outbox reads (events, created_at, the sparse index's), so the one relay publishes both.
type change struct {
	PK            string  `dynamodbav:"pk"`
	Events        []Event `dynamodbav:"events"`
	CreatedAt     string  `dynamodbav:"created_at"`
	OutboxStatus  string  `dynamodbav:"outbox_status"`
	NextAttemptAt int64   `dynamodbav:"next_attempt_at"`
}

// PutChange records ev, a registry event not yet published, due at once for the outbox: one
// PutItem. An item for the same event id that is there already is left as it is (the same event,
// already owed or published).
func (s *Store) PutChange(ctx context.Context, ev Event, now time.Time) error {
	if ev.EventID == "" || ev.DetailType == "" || ev.Detail == "" {
		return errors.New("put change: the event needs an id, a detail type and a detail")
	}
	ev.Status = EventPending
	item, err := attributevalue.MarshalMap(change{
		PK: ChangePK(ev.EventID), Events: []Event{ev}, CreatedAt: now.UTC().Format(time.RFC3339Nano),
		OutboxStatus: OutboxPending, NextAttemptAt: now.UnixMilli(),
	})
	if err != nil {
		return fmt.Errorf("put change %s: marshal: %w", ev.EventID, err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": PKAttr},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("put change %s: %w", ev.EventID, err)
	}
	return nil
}
