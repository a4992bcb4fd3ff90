package regstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Idempotency record statuses.
const (
	// IdemInProgress: a request holds the key until LeaseUntil.
	IdemInProgress = "in_progress"
	// IdemCompleted: the registration RegistrationID answers every repeat.
	IdemCompleted = "completed"
	// IdemReleased: the request failed before creating anything; the key is free again.
	IdemReleased = "released"
)

// IdempotencyWindow is how long a key is remembered.
const IdempotencyWindow = 24 * time.Hour

// Idempotency is what an Idempotency-Key stands for: one user's one request body, and the
// registration it led to.
type Idempotency struct {
	PK       string `dynamodbav:"pk"`
	UserID   string `dynamodbav:"user_id"`
	BodyHash string `dynamodbav:"body_hash"`
	Status   string `dynamodbav:"status"`
	// RegistrationID is chosen before MLflow is called, so a request that takes over a dead
	// one's key can find the model version that one created (it is tagged with this id).
	RegistrationID string `dynamodbav:"registration_id"`
	// Owner is the attempt holding the key; only it may complete or release it.
	Owner string `dynamodbav:"owner"`
	// LeaseUntil (epoch ms) is when the owner is certainly gone (its invocation's deadline), so
	// another request may take over.
	LeaseUntil int64 `dynamodbav:"lease_until"`
	// CreateSent: an owner was about to send MLflow the create of RegistrationID's model version.
	// From then on no owner creates it again; see MarkCreateSent.
	CreateSent bool `dynamodbav:"create_sent,omitempty"`
	// CreateSentAt (epoch ms) is when the create was marked sent: a retry measures from it how
	// long MLflow may still be committing a create whose answer was lost. 0 on keys marked before
	// it was recorded (SentAt falls back to CreatedAt).
	CreateSentAt int64  `dynamodbav:"create_sent_at,omitempty"`
	CreatedAt    string `dynamodbav:"created_at"`
	TTL          int64  `dynamodbav:"ttl"` // epoch seconds
}

// Expired reports whether the key is past its window at now (DynamoDB deletes expired items late).
func (i *Idempotency) Expired(now time.Time) bool { return i.TTL <= now.Unix() }

// SentAt is when the key's create was marked sent: CreateSentAt, or for a key marked before
// that was recorded, when the key was first claimed (the zero time if that is unreadable too).
func (i *Idempotency) SentAt() time.Time {
	if i.CreateSentAt > 0 {
		return time.UnixMilli(i.CreateSentAt)
	}
	t, _ := time.Parse(time.RFC3339Nano, i.CreatedAt)
	return t
}

// Stale reports whether the owner's lease ran out at now.
func (i *Idempotency) Stale(now time.Time) bool { return i.LeaseUntil < now.UnixMilli() }

// IdempotencyPK is the partition key of a user's key: the key itself is hashed, so whatever the
// client chose (up to 255 characters) fits and is never stored.
func IdempotencyPK(userID, key string) string {
	sum := sha256.Sum256([]byte(key))
	return IdempotencyPrefix + userID + "#" + hex.EncodeToString(sum[:])
}

// ClaimIdempotency stores rec as in progress unless the key is held: it returns nil when rec now
// holds the key, or the record that holds it. An expired or released key is free.
func (s *Store) ClaimIdempotency(ctx context.Context, rec Idempotency, now time.Time) (*Idempotency, error) {
	rec.Status = IdemInProgress
	rec.CreatedAt = now.UTC().Format(time.RFC3339Nano)
	rec.TTL = now.Add(IdempotencyWindow).Unix()
	item, err := attributevalue.MarshalMap(rec)
	if err != nil {
		return nil, fmt.Errorf("claim idempotency key: marshal: %w", err)
	}
	in := &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #ttl <= :now OR #st = :released"),
		ExpressionAttributeNames:            map[string]string{"#pk": PKAttr, "#ttl": TTLAttr, "#st": "status"},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.Unix()), ":released": str(IdemReleased)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	// The holder can vanish between a failed claim and the read of it (released, or deleted by
	// TTL); the key is then free, so claim again.
	for range conditionRetries {
		_, err = s.db.PutItem(ctx, in)
		if err == nil {
			return nil, nil
		}
		if !isConditionFailed(err) {
			return nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		item, err := s.heldBy(ctx, rec.PK, err)
		if err != nil {
			return nil, fmt.Errorf("claim idempotency key: %w", err)
		}
		if item == nil {
			continue
		}
		var held Idempotency
		if err := attributevalue.UnmarshalMap(item, &held); err != nil {
			return nil, fmt.Errorf("claim idempotency key: unmarshal: %w", err)
		}
		if held.Status != IdemReleased && !held.Expired(now) {
			return &held, nil
		}
	}
	return nil, fmt.Errorf("claim idempotency key: %w", ErrConflict)
}

// heldBy is the item that failed a conditional write: the one the failure carries, or a fresh
// read if it carries none (nil if there is none any more).
func (s *Store) heldBy(ctx context.Context, pk string, condErr error) (map[string]types.AttributeValue, error) {
	var cf *types.ConditionalCheckFailedException
	if errors.As(condErr, &cf) && len(cf.Item) > 0 {
		return cf.Item, nil
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(pk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// TakeOverIdempotency moves a stale in-progress key from owner from to owner to, leased until
// leaseUntil, and returns the key as it now stands (with the CreateSent of the owner taken over
// from, whatever the caller read before). ErrConflict: the key is no longer stale, or another
// request took it first.
func (s *Store) TakeOverIdempotency(ctx context.Context, pk, from, to string, leaseUntil, now time.Time) (*Idempotency, error) {
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 key(pk),
		UpdateExpression:    aws.String("SET #owner = :to, #lease = :lease"),
		ConditionExpression: aws.String("#st = :inprog AND #owner = :from AND #lease < :now"),
		ExpressionAttributeNames: map[string]string{
			"#owner": "owner", "#lease": "lease_until", "#st": "status",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":to": str(to), ":from": str(from), ":lease": num(leaseUntil.UnixMilli()),
			":now": num(now.UnixMilli()), ":inprog": str(IdemInProgress),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if isConditionFailed(err) {
		return nil, fmt.Errorf("take over idempotency key: %w", ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("take over idempotency key: %w", err)
	}
	var held Idempotency
	if err := attributevalue.UnmarshalMap(out.Attributes, &held); err != nil {
		return nil, fmt.Errorf("take over idempotency key: unmarshal: %w", err)
	}
	return &held, nil
}

// MarkCreateSent records, before owner sends MLflow the create of the key's model version, that
// it is about to. The write is conditioned on owner still holding the key, and a take-over
// changes the holder and reads the mark in one atomic update, so either the mark lands first and
// every later holder sees it, or the take-over lands first and owner may not create at all
// (ErrConflict). A holder that sees the mark never creates: it can only find the version. The
// mark records when (now), so a holder can tell when MLflow can no longer be committing it.
func (s *Store) MarkCreateSent(ctx context.Context, pk, owner string, now time.Time) error {
	return s.updateIdempotency(ctx, "mark idempotency key create sent", &dynamodb.UpdateItemInput{
		Key:                      key(pk),
		UpdateExpression:         aws.String("SET #sent = :t, #sentat = :at"),
		ConditionExpression:      aws.String("#st = :inprog AND #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner", "#st": "status", "#sent": "create_sent", "#sentat": "create_sent_at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": str(owner), ":inprog": str(IdemInProgress),
			":t": &types.AttributeValueMemberBOOL{Value: true}, ":at": num(now.UnixMilli()),
		},
	})
}

// CompleteIdempotency marks owner's key completed: from now on it answers with its registration.
func (s *Store) CompleteIdempotency(ctx context.Context, pk, owner string) error {
	return s.setIdempotencyStatus(ctx, "complete idempotency key", pk, owner, IdemCompleted)
}

// ReleaseIdempotency frees owner's key after a failure that created nothing.
func (s *Store) ReleaseIdempotency(ctx context.Context, pk, owner string) error {
	return s.setIdempotencyStatus(ctx, "release idempotency key", pk, owner, IdemReleased)
}

// LeaseIdempotency moves the end of owner's lease to until: earlier when the owner gives up
// with an outcome a retry must settle (the retry may then take over once MLflow can no longer
// be working on the owner's call).
func (s *Store) LeaseIdempotency(ctx context.Context, pk, owner string, until time.Time) error {
	return s.setHeld(ctx, "lease idempotency key", pk, owner, "lease_until", num(until.UnixMilli()))
}

func (s *Store) setIdempotencyStatus(ctx context.Context, what, pk, owner, status string) error {
	return s.setHeld(ctx, what, pk, owner, "status", str(status))
}

// setHeld sets one attribute of pk's idempotency item, only while owner still holds the key in
// progress: every change a holder makes is conditioned the same way, so a holder that was taken
// over changes nothing (ErrConflict).
func (s *Store) setHeld(ctx context.Context, what, pk, owner, attr string, v types.AttributeValue) error {
	return s.updateIdempotency(ctx, what, &dynamodb.UpdateItemInput{
		Key:                      key(pk),
		UpdateExpression:         aws.String("SET #attr = :v"),
		ConditionExpression:      aws.String("#st = :inprog AND #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#owner": "owner", "#st": "status", "#attr": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": str(owner), ":inprog": str(IdemInProgress), ":v": v,
		},
	})
}

func (s *Store) updateIdempotency(ctx context.Context, what string, in *dynamodb.UpdateItemInput) error {
	in.TableName = aws.String(s.table)
	_, err := s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return fmt.Errorf("%s: %w", what, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
